"""Bit-identity of the solvers across refactors: every case of ``tests/solver_fixture.py`` — every
model × activation × semantics × method × backend, and the networks the authors' code ran — gives the
accepted and rejected steps, RHS evaluations, L, lengths and output points recorded before the solver
layer was rewritten.

The last bits depend on the CPU class too (numpy's, torch's and BLAS's SIMD kernels are chosen at run
time: ``tests/solver_fixture.py``), so a backend passes when it equals one recording exactly. On a
machine whose :func:`~tests.solver_fixture.numeric_signature` no recording has, only what does not
depend on those kernels is checked: the numba kernel's steps, counts and output points exactly (it
calls libm's scalar functions) and its lengths to 1e-12 (PCA goes through BLAS); scipy's and torch's
cases are then skipped, saying how to record this machine's variant."""

from __future__ import annotations

import json
import math

import pytest

from tests.solver_fixture import case_key, cases, compute, numeric_signature, recordings

#: the numba fields that come through BLAS (PCA): equal to this relative tolerance across CPU classes
_VIA_BLAS = ("lengths", "var_pc1")


@pytest.fixture(scope="module")
def recorded():
    return recordings()


@pytest.fixture(scope="module")
def computed():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return compute()
    finally:
        torch.set_num_threads(n)


def _diffs(want_cases: dict, got_cases: dict, backend: str, loose: tuple[str, ...] = ()) -> list[str]:
    out = []
    for key, want in want_cases.items():
        if json.loads(key)["backend"] != backend:
            continue
        got = got_cases[key]
        fields = [f for f in want if got.get(f) != want[f]
                  and not (f in loose and _close(want[f], got.get(f)))]
        if fields:
            out.append(f"{key}: {', '.join(f'{f} {want[f]!r} -> {got.get(f)!r}' for f in fields)}")
    return out


def _close(want, got, rtol: float = 1e-12) -> bool:
    a = [float(v) for v in (want if isinstance(want, list) else [want])]
    b = [float(v) for v in (got if isinstance(got, list) else [got])] if got is not None else []
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=rtol, abs_tol=0.0) for x, y in zip(a, b))


def test_fixture_covers_every_case(recorded):
    for name, _, recs in recorded:
        assert sorted(recs) == sorted(case_key(kw) for kw in cases()), name


@pytest.mark.parametrize("backend", ["numba", "torch", "scipy"])
def test_bit_identical_to_fixture(recorded, computed, backend):
    diffs = {name: _diffs(recs, computed, backend) for name, _, recs in recorded}
    if any(not d for d in diffs.values()):
        return  # equal, bit for bit, to one recording
    sig = numeric_signature()
    mine = [name for name, s, _ in recorded if s == sig]
    if mine:  # this machine's class was recorded: any change is the code's
        d = diffs[mine[0]]
        pytest.fail(f"{len(d)} case(s) changed against {mine[0]}:\n" + "\n".join(d[:20]))
    if backend != "numba":
        pytest.skip(f"no recording of the fixture for this CPU/library class ({sig}); record one on the "
                    "commit before a numeric change: python -m tests.solver_fixture --variant")
    loose = {name: _diffs(recs, computed, backend, loose=_VIA_BLAS) for name, _, recs in recorded}
    if not any(not d for d in loose.values()):
        name = min(loose, key=lambda n: len(loose[n]))
        pytest.fail(f"{len(loose[name])} numba case(s) changed against {name} (steps and points exact, "
                    f"lengths to 1e-12):\n" + "\n".join(loose[name][:20]))


def test_numba_recordings_agree_across_machines(recorded):
    """What the cross-machine check relies on, on real recordings: the numba kernel's steps and
    points are the same on every recorded CPU class, its lengths equal to 1e-12."""
    _, _, first = recorded[0]
    for name, _, recs in recorded[1:]:
        assert not _diffs(first, recs, "numba", loose=_VIA_BLAS), name


def test_the_cross_machine_check_catches_a_change(recorded):
    """The loose numba comparison still sees a moved step count, point or length."""
    _, _, recs = recorded[0]
    key = next(k for k in recs if json.loads(k)["backend"] == "numba")
    assert not _diffs(recs, recs, "numba", loose=_VIA_BLAS)
    for field, bump in (("nfev", lambda v: v + 1), ("points_digest", lambda v: "x" + v[1:]),
                        ("lengths", lambda v: [repr(float(v[0]) * (1 + 1e-9))])):
        moved = dict(recs)
        moved[key] = dict(recs[key], **{field: bump(recs[key][field])})
        assert _diffs(recs, moved, "numba", loose=_VIA_BLAS), field
