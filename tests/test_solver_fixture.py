"""Bit-identity of the solvers across refactors: every case of ``tests/solver_fixture.py`` — every
model × activation × semantics × method × backend, and the networks the authors' code ran — gives the
accepted and rejected steps, RHS evaluations, L, lengths and output points recorded before the solver
layer was rewritten."""

from __future__ import annotations

import json

import pytest

from tests.solver_fixture import FIXTURE, case_key, cases, compute


@pytest.fixture(scope="module")
def recorded():
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def computed():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return compute()
    finally:
        torch.set_num_threads(n)


def test_fixture_covers_every_case(recorded):
    assert sorted(recorded) == sorted(case_key(kw) for kw in cases())


@pytest.mark.parametrize("backend", ["numba", "torch", "scipy"])
def test_bit_identical_to_fixture(recorded, computed, backend):
    diffs = []
    for key, want in recorded.items():
        if json.loads(key)["backend"] != backend:
            continue
        got = computed[key]
        if got != want:
            fields = [f for f in want if got.get(f) != want[f]]
            diffs.append(f"{key}: {', '.join(f'{f} {want[f]!r} -> {got.get(f)!r}' for f in fields)}")
    assert not diffs, f"{len(diffs)} case(s) changed:\n" + "\n".join(diffs[:20])
