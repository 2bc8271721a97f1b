"""Faults become failure rows with a reason; the sweep finishes and every other row is unaffected.

Non-finite state (a vector field that overflows), an exhausted step budget, a per-solve time limit
and a worker process that dies (``os._exit`` inside a joblib worker) — each in one sweep next to
healthy tasks, whose rows must equal those of a clean run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trajlen.driver import run_sweep
from trajlen.execute import NOT_RUN, Died, drive
from trajlen.pipeline import run_tasks
from trajlen.summary import failure_counts, summarize
from trajlen.sweep import main
from trajlen.tasks import build_tasks

#: The scipy backend, because the blow-up is injected through its field_for.
BASE = {"model": ["node", "ctrnn"], "width": [10], "backend": ["scipy"]}
#: A network that needs tens of thousands of steps (LTC, relu, weights of std 50): "takes forever" on
#: the scipy loop (the compiled kernel's own time limit is tested in test_compiled).
SLOW = {"model": ["ltc"], "activation": ["relu"], "semantics": ["paper"], "weight_init": ["std_label"],
        "sigma_w2": [50.0], "width": [10], "backend": ["scipy"]}


def _compare(a: pd.DataFrame, b: pd.DataFrame) -> None:
    # max_seconds aside: a table mixing max_seconds None and 0.3 stores the column as float (NaN)
    drop = ["wall_s", "max_seconds"]
    pd.testing.assert_frame_equal(a.drop(columns=drop).reset_index(drop=True),
                                  b.drop(columns=drop).reset_index(drop=True))


class _BlowUp:
    """Stands in for the scipy executor's ``field_for``: the true field until t = 1, then a drive of
    1e308 per unit time, so the state overflows to inf within an accepted step (an infinite or NaN
    *derivative* would only make scipy reject steps until the step size underflows)."""

    def __init__(self, field):
        self.field = field

    @classmethod
    def field_for(cls, net, inp, params):
        from trajlen.models import field_for

        return cls(field_for(net, inp, params))

    def __call__(self, t, y):
        out = self.field(t, y)
        return out if float(t[0]) < 1.0 else np.full_like(out, 1e308)

    def jacobian(self, t, y):
        return self.field.jacobian(t, y)


def _faulty_runner(blow_up_id: str, die_id: str | None):
    """A chunk runner whose ``die_id`` task kills its worker process and whose ``blow_up_id`` task
    integrates an overflowing field. Defined in a function so cloudpickle ships it by value."""

    def runner(chunk):
        import trajlen.solve.scipy_ivp as sivp

        rows = []
        for t in chunk:
            if t.task_id == die_id:
                os._exit(3)  # what a segfault or the OOM killer does to a worker: no exception
            if t.task_id == blow_up_id:
                saved, sivp.field_for = sivp.field_for, _BlowUp.field_for
                try:
                    rows += run_tasks([t])
                finally:
                    sivp.field_for = saved
            else:
                rows += run_tasks([t])
        return rows

    return runner


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    tasks = build_tasks(BASE, 5, 0)
    return tasks, run_sweep(tasks, tmp_path_factory.mktemp("ref"), jobs=1, progress=False).table


def test_budget_time_limit_and_blow_up_in_process(tmp_path, healthy):
    tasks, ref = healthy
    budget = build_tasks({**BASE, "max_steps": [3]}, 2, 0)
    slow = build_tasks({**SLOW, "max_seconds": [0.3]}, 1, 0)
    blow = tasks[1].task_id
    res = run_sweep(tasks + budget + slow, tmp_path / "s", jobs=1, progress=False,
                    runner=_faulty_runner(blow, None))
    df = res.table.set_index("task_id")
    assert df.loc[blow, "status"] == "non_finite"
    assert set(df.loc[[t.task_id for t in budget], "status"]) == {"step_budget"}
    assert df.loc[slow[0].task_id, "status"] == "time_limit"
    assert "time limit 0.3s" in df.loc[slow[0].task_id, "message"]
    assert np.isnan(df.loc[blow, "length"])
    others = res.table[res.table["task_id"].isin([t.task_id for t in tasks if t.task_id != blow])]
    _compare(others, ref[ref["task_id"] != blow])
    assert res.failures == {"step_budget": 4, "non_finite": 1, "time_limit": 1}
    assert failure_counts(res.table) == res.failures
    summary = summarize(res.table)
    assert summary["failures"].str.contains("step_budget").any()


class _StubPool:
    """A pool like a crashed loky pool: when the culprit runs, every unit still running (up to
    ``width``, in order) dies with it and the rest of the batch is aborted."""

    def __init__(self, culprit: str, width: int = 2):
        self.culprit, self.width, self.calls = culprit, width, []

    def run(self, units):
        self.calls.append((len(units), any(t.task_id == self.culprit for u in units for t in u)))
        for start in range(0, len(units), self.width):
            running = units[start:start + self.width]
            if any(t.task_id == self.culprit for u in running for t in u):
                for j in range(start, len(units)):
                    yield j, (Died("boom", certain=len(running) == 1) if j < start + len(running)
                              else NOT_RUN)
                return
            for j, u in enumerate(running, start):
                yield j, [{"task_id": t.task_id} for t in u]


@pytest.mark.parametrize("max_retries", [0, 2])
def test_drive_isolates_the_culprit_and_spares_bystanders(healthy, max_retries):
    tasks, _ = healthy
    culprit = tasks[5].task_id
    chunks = [tasks[i:i + 3] for i in range(0, len(tasks), 3)]
    done, dead = [], []
    pool = _StubPool(culprit)
    drive(pool, chunks, lambda u, rows: done.extend(r["task_id"] for r in rows),
          lambda t, msg: dead.append(t.task_id), max_retries=max_retries)
    assert dead == [culprit]
    assert sorted(done) == sorted(t.task_id for t in tasks if t.task_id != culprit)
    assert len(done) == len(set(done))  # nothing computed twice
    # alone, the culprit ran max_retries + 1 times
    assert sum(1 for n, has in pool.calls if n == 1 and has) == max_retries + 1


class _DyingParallel:
    """A ``joblib.Parallel`` stand-in (the ``executor`` hook) that runs calls in this process, two
    "workers" at a time, and — like loky when a worker process dies — raises TerminatedWorkerError
    as soon as the culprit's chunk starts, taking the other running chunk down with it."""

    def __init__(self, culprit: str):
        self.culprit = culprit

    def __call__(self, calls):
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        calls = list(calls)
        for k in range(0, len(calls), 2):
            pair = calls[k:k + 2]
            for _f, args, _kw in pair:  # run_unit(index, unit, runner, marker): both start
                Path(args[3]).touch()
            if any(t.task_id == self.culprit for _f, args, _kw in pair for t in args[1]):
                raise TerminatedWorkerError("A worker process managed by the executor was "
                                            "unexpectedly terminated. (EXIT(-9))")
            for f, args, kw in pair:
                yield f(*args, **kw)


def test_worker_death_recovery_through_the_sweep(tmp_path, healthy):
    """Worker death as joblib reports it, through run_sweep, its pool and its store, in-process."""
    tasks, ref = healthy
    die = tasks[4].task_id
    res = run_sweep(tasks, tmp_path / "s", chunk_size=3, progress=False, max_retries=1,
                    executor=lambda: _DyingParallel(die))
    df = res.table.set_index("task_id")
    assert len(df) == len(tasks) and df.loc[die, "status"] == "worker_died"
    assert "EXIT(-9)" in df.loc[die, "message"]
    assert res.failures == {"worker_died": 1}
    ok = res.table["task_id"] != die
    _compare(res.table[ok], ref[ref["task_id"] != die])


@pytest.mark.slow
def test_worker_death_is_isolated_and_recorded(tmp_path, healthy):
    """A real worker process killed by os._exit: the sweep recovers, records the culprit. (Slow
    only because every death costs a pool restart, and each new worker imports scipy/sklearn.)"""
    tasks, ref = healthy
    die, blow = tasks[6].task_id, tasks[2].task_id
    res = run_sweep(tasks, tmp_path / "s", jobs=2, chunk_size=3, progress=False, max_retries=0,
                    runner=_faulty_runner(blow, die))
    df = res.table.set_index("task_id")
    assert len(df) == len(tasks)
    assert df.loc[die, "status"] == "worker_died"
    assert "worker process died" in df.loc[die, "message"]
    assert df.loc[blow, "status"] == "non_finite"
    assert res.failures == {"non_finite": 1, "worker_died": 1}
    ok = ~res.table["task_id"].isin([die, blow])
    _compare(res.table[ok], ref[ref["task_id"].isin(res.table.loc[ok, "task_id"])])
    # The dead task is a recorded row: a rerun of the same sweep computes nothing.
    again = run_sweep(tasks, tmp_path / "s", jobs=2, progress=False, runner=_faulty_runner(blow, die))
    assert again.n_computed == 0


def test_cli_summary_counts_failures_by_reason(tmp_path, capsys):
    code = main(["--model", "node", "ctrnn", "--width", "10", "--samples", "2", "--max-steps", "3",
                 "--jobs", "1", "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert code == 0
    assert "failures: 4 of 4 (step_budget: 4)" in out
