"""How a sweep cuts its tasks into units for several workers (:mod:`trajlen.balance`): every task
exactly once, the costliest (smallest τ) first, units that shrink towards the end, a small sweep
spread over every worker — and rows that do not depend on the cut."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from trajlen import balance
from trajlen.balance import UNITS_PER_WORKER, balanced_units, plan_units, predicted_cost
from trajlen.driver import run_sweep
from trajlen.params import DRAW_ORDER, draws_to_tau, sample_params, tau_min_drawn
from trajlen.tasks import build_tasks, chunks


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 700), size=st.integers(1, 100), workers=st.integers(1, 8))
def test_units_cover_the_tasks_in_order_and_shrink(n, size, workers):
    tasks = list(range(n))
    units = balanced_units(tasks, size, workers)
    assert [t for u in units for t in u] == tasks
    sizes = [len(u) for u in units]
    assert all(1 <= s <= size for s in sizes)
    if workers == 1:
        assert units == chunks(tasks, size)
        return
    assert sizes == sorted(sizes, reverse=True)
    left = n
    for s in sizes:  # never more than 1/(U·w) of what is left, so no unit outlasts the rest for long
        assert s <= max(1, math.ceil(left / (UNITS_PER_WORKER * workers)))
        left -= s
    if n:
        assert sizes[-1] == 1
    if n <= UNITS_PER_WORKER * workers:
        assert sizes == [1] * n  # a small sweep: one task a unit, every worker has work


def test_tau_min_without_the_weights_after_it_is_the_drawn_one():
    for model, width, depth, init in [("ctrnn", 7, 1, "std_label"), ("ltc", 5, 3, "var_over_k"),
                                      ("node", 4, 2, "std_label")]:
        for t in build_tasks({"model": [model], "width": [width], "depth": [depth],
                              "sigma_b2": [0.7], "weight_init": [init]}, 3, 11):
            assert tau_min_drawn(t.net, t.seed, t.sample) == sample_params(t.net, t.seed, t.sample).tau_min
    assert draws_to_tau(5, 3) == 3 * (2 * 25 + 2 * 5) and DRAW_ORDER[3][0] == "tau"


GRID = {"model": ["node", "ctrnn", "ltc"], "width": [6], "depth": [1, 2], "backend": ["numba"]}


@settings(max_examples=40, deadline=None)
@given(samples=st.integers(1, 30), size=st.integers(1, 64), workers=st.integers(2, 4))
def test_planned_units_are_heaviest_first_and_within_their_budget(samples, size, workers):
    tasks = build_tasks(GRID, samples, 5)
    units = plan_units(tasks, size, workers)
    assert sorted(t.task_id for u in units for t in u) == sorted(t.task_id for t in tasks)
    cost = dict(zip([t.task_id for t in tasks], balance._costs(tasks)))
    flat = [cost[t.task_id] for u in units for t in u]
    assert flat == sorted(flat, reverse=True)
    left = sum(flat)
    for u in units:
        spent = sum(cost[t.task_id] for t in u)
        assert 1 <= len(u) <= size
        assert len(u) == 1 or spent <= left / (UNITS_PER_WORKER * workers) * (1 + 1e-12)
        left -= spent


def test_the_smallest_tau_runs_first_and_a_model_without_tau_is_not_ranked_by_it():
    tasks = build_tasks(GRID, 20, 5)
    first = plan_units(tasks, 64, 2)[0][0]
    ranked = [t for t in tasks if t.net.model != "node"]
    tau = {t.task_id: sample_params(t.net, t.seed, t.sample).tau_min for t in ranked}
    heaviest = max(ranked, key=lambda t: t.net.depth / tau[t.task_id])
    assert first.net.depth == heaviest.net.depth and first.sample == heaviest.sample
    assert first.net.model in ("ctrnn", "ltc")
    node = next(t for t in tasks if t.net.model == "node")
    assert predicted_cost(node, None) == node.net.depth * 36 * balance.RATE_FLOOR


def test_a_static_network_is_priced_by_its_points():
    small, large = build_tasks({"model": ["mlp"], "width": [8], "depth": [3], "grid_points": [101, 5001]},
                               1, 0)
    assert predicted_cost(large, None) / predicted_cost(small, None) == 5001 / 101
    assert plan_units([small, large], 64, 2)[0] == [large]


def test_past_the_prediction_budget_units_keep_the_given_order(monkeypatch):
    tasks = build_tasks(GRID, 10, 5)
    monkeypatch.setattr(balance, "PREDICT_BUDGET", 0)
    assert plan_units(tasks, 64, 2) == balanced_units(tasks, 64, 2)
    assert plan_units(tasks, 8, 1) == chunks(tasks, 8)


def test_forty_tasks_reach_both_workers_with_the_rows_of_one(tmp_path):
    """40 numba networks (below the default unit of 64: one unit, one worker, before the cut) on
    --jobs 2 are many units; the rows equal a one-worker, one-unit run's (timings aside)."""
    tasks = build_tasks({"model": ["ctrnn"], "width": [4], "backend": ["numba"]}, 40, 3)
    one = run_sweep(tasks, tmp_path / "one", jobs=1, progress=False)
    two = run_sweep(tasks, tmp_path / "two", jobs=2, progress=False)
    shards = sorted((tmp_path / "two" / "shards").glob("*.parquet"))
    assert len(list((tmp_path / "one" / "shards").glob("*.parquet"))) == 1
    assert len(shards) == len(plan_units(tasks, 64, 2)) >= 2 * UNITS_PER_WORKER
    assert sum(pq.read_metadata(s).num_rows for s in shards) == 40
    pd.testing.assert_frame_equal(one.table.drop(columns="wall_s"), two.table.drop(columns="wall_s"))


def test_an_explicit_chunk_size_is_kept_on_several_workers(tmp_path):
    tasks = build_tasks({"model": ["node"], "width": [4], "backend": ["numba"]}, 10, 0)
    run_sweep(tasks, tmp_path / "s", jobs=2, chunk_size=4, progress=False)
    sizes = sorted(pq.read_metadata(s).num_rows for s in (tmp_path / "s" / "shards").glob("*.parquet"))
    assert sizes == [2, 4, 4]
