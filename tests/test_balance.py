"""How a sweep cuts its tasks into units for several workers (:func:`trajlen.tasks.balanced_units`):
every task exactly once and in order, units that shrink towards the end, a small sweep spread over
every worker — and rows that do not depend on the cut."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from trajlen.driver import run_sweep
from trajlen.tasks import UNITS_PER_WORKER, balanced_units, build_tasks, chunks


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


def test_forty_tasks_reach_both_workers_with_the_rows_of_one(tmp_path):
    """40 numba networks (below the default unit of 64: one unit, one worker, before the cut) on
    --jobs 2 are 26 units (3, 3, 3, 2, …, 1); the rows equal a one-worker, one-unit run's (timings aside)."""
    tasks = build_tasks({"model": ["ctrnn"], "width": [4], "backend": ["numba"]}, 40, 3)
    one = run_sweep(tasks, tmp_path / "one", jobs=1, progress=False)
    two = run_sweep(tasks, tmp_path / "two", jobs=2, progress=False)
    shards = sorted((tmp_path / "two" / "shards").glob("*.parquet"))
    assert len(list((tmp_path / "one" / "shards").glob("*.parquet"))) == 1
    assert len(shards) == len(balanced_units(tasks, 64, 2)) == 26
    assert sum(pq.read_metadata(s).num_rows for s in shards) == 40
    pd.testing.assert_frame_equal(one.table.drop(columns="wall_s"), two.table.drop(columns="wall_s"))


def test_an_explicit_chunk_size_is_kept_on_several_workers(tmp_path):
    tasks = build_tasks({"model": ["node"], "width": [4], "backend": ["numba"]}, 10, 0)
    run_sweep(tasks, tmp_path / "s", jobs=2, chunk_size=4, progress=False)
    sizes = sorted(pq.read_metadata(s).num_rows for s in (tmp_path / "s" / "shards").glob("*.parquet"))
    assert sizes == [2, 4, 4]
