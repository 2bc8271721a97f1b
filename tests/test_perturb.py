"""Round-off sensitivity as a measure (``--perturb``, :mod:`trajlen.perturb`): the perturbations are
what they say, the spreads vanish on a well-conditioned network and not on a chaotic one on every
backend, and the summary shows and flags them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trajlen import shards
from trajlen.params import sample_params
from trajlen.perturb import SCALE, perturbed_params, relative_spread, spread_columns
from trajlen.pipeline import Task, run_tasks
from trajlen.spec import NetworkSpec, make_specs
from trajlen.summary import format_summary, summarize

BACKENDS = ("numba", "scipy", "torch")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_perturbations_are_seeded_relative_and_of_round_off_size():
    p = sample_params(NetworkSpec(width=10), 0, 3)
    a, b = perturbed_params(p, 0, 3, 2), perturbed_params(p, 0, 3, 2)
    for name, x in p.arrays().items():
        np.testing.assert_array_equal(a[0].arrays()[name], b[0].arrays()[name])   # deterministic
        rel = a[0].arrays()[name] / x - 1.0
        assert 0 < np.std(rel) < 3 * SCALE and np.max(np.abs(rel)) < 8 * SCALE
        assert not np.array_equal(a[0].arrays()[name], a[1].arrays()[name])        # per index
    other = perturbed_params(p, 0, 4, 1)[0]
    assert not np.array_equal(other.W, a[0].W)                                      # per sample


def test_relative_spread():
    assert relative_spread([2.0, 2.0, 2.0]) == 0.0
    assert relative_spread([1.0, 2.0, 4.0]) == pytest.approx(1.5)
    assert math.isnan(relative_spread([1.0, math.nan]))
    cols, note = spread_columns({"status": "ok", "length": 1.0, "L": 2.0},
                                [{"status": "ok", "length": 3.0, "L": 2.0},
                                 {"status": "step_budget", "length": math.nan, "L": 9.0}])
    assert cols == {"length_spread": 1.0, "L_spread": 0.0}
    assert "1 of 2 perturbed solves failed (step_budget)" in note


def _row(backend, model, width, sample, perturb=2, **kw):
    net, inp, sol = make_specs("reference", model=model, activation="hardtanh", width=width,
                               backend=backend, perturb=perturb, **kw)
    return run_tasks([Task(net, inp, sol, 0, sample)])[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_well_conditioned_network_does_not_spread(backend):
    row = _row(backend, "node", 8, 0)
    assert row["status"] == "ok" and row["perturb"] == 2
    assert row["L_spread"] == 0.0 and row["length_spread"] < 1e-12
    unperturbed = _row(backend, "node", 8, 0, perturb=0)
    assert row["length"] == unperturbed["length"] and row["L"] == unperturbed["L"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_chaotic_network_spreads(backend):
    """A reference hard-tanh LTC whose accept/reject decisions hang on round-off at rtol 1e-2 (found
    by a scan of 12 samples at width 20): 1e-15 changes its length by about 1 %. Whether its step
    count moves too depends on the CPU's rounding (torch on an AVX-512 Xeon: length spread 1.2 %, L
    spread 0; on the AMD EPYC machines both moved), so only the numba kernel, which rounds alike on
    both, is held to a moving L."""
    row = _row(backend, "ltc", 20, 10)
    assert row["status"] == "ok"
    assert row["length_spread"] > 1e-3 and row["L_spread"] >= 0
    if backend == "numba":
        assert row["L_spread"] > 0


def test_the_authors_chaotic_network_spreads(octave_dir):
    """The issue's network: the authors' hard-tanh LTC (k = 100, seed 3), numba, MATLAB's rules."""
    net, inp, sol = make_specs("reference", model="ltc", activation="hardtanh", width=100,
                               backend="numba", perturb=3)
    task = Task(net, inp, sol, params_file=str(octave_dir / "params_Htanh_k100_n1_seed3.mat"))
    row = run_tasks([task])[0]
    assert row["length_spread"] > 0.01


def test_rows_with_spreads_fit_the_store():
    rows = [_row("numba", "ltc", 6, s, perturb=1) for s in range(2)]
    shards.decode(shards.encode(rows))


def _table(spread):
    return pd.DataFrame({"model": ["ltc"] * 6, "status": ["ok"] * 6, "length": np.arange(1.0, 7.0),
                         "length_full": 1.0, "L": 3.0, "steps_per_interval": 1.0, "rtol": 1e-2,
                         "tau_min": 0.5, "length_spread": spread, "L_spread": 0.0})


def test_the_summary_shows_and_flags_the_spread():
    calm = format_summary(summarize(_table(1e-4)))
    assert "spread length / L (median)" in calm and "0.0001 / 0" in calm and " !" not in calm
    wild = format_summary(summarize(_table(0.3)))
    assert "0.3 / 0 !" in wild and "exceeds rtol" in wild
    plain = _table(np.nan).drop(columns=["length_spread", "L_spread"])
    assert "spread" not in format_summary(summarize(plain))


@pytest.mark.parametrize("backend", ["numba", "scipy"])
def test_one_trajectory_in_memory_at_a_time(backend, monkeypatch):
    """Under --perturb a network's solves are measured and dropped one after another: when a solve
    starts, no earlier trajectory is alive (two would double a deep network's peak memory), and the
    rows are those of the plain run."""
    import weakref

    from trajlen import pipeline

    want = _row(backend, "ltc", 6, 0, perturb=2)
    alive: list[weakref.ref] = []
    overlaps = []
    solve = pipeline.trajectory_for

    def tracked(task, params=None):
        overlaps.append(sum(r() is not None for r in alive))
        traj = solve(task, params)
        alive.append(weakref.ref(traj))
        return traj

    monkeypatch.setattr(pipeline, "trajectory_for", tracked)
    got = _row(backend, "ltc", 6, 0, perturb=2)
    assert len(overlaps) == 3 and overlaps == [0, 0, 0]
    keys = ("length", "L", "length_spread", "L_spread", "n_accepted", "nfev")
    assert {k: got[k] for k in keys} == {k: want[k] for k in keys}
