"""Pipeline stage 6½ — a sweep: the tasks a store still lacks, run on a pool, written as shards.

:func:`run_sweep` is the library entry point behind ``python -m trajlen.sweep`` and ``python -m
trajlen.reproduce``: it locks the store, checks that the tasks fit in memory and that the store is
writable before any work, builds the compiled kernel once in this process when the tasks need it,
and drives the chunks through :func:`trajlen.execute.drive`, writing each chunk's rows as one shard
as it completes.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import execute as X
from .balance import plan_units
from .pipeline import SCHEMA_VERSION, Task, measure
from .resources import check_memory
from .results import ResultStore
from .spec import SpecError
from .summary import failure_counts
from .tasks import chunks, round_robin
from .trajectory import STATUS_WORKER_DIED, Trajectory

__all__ = ["run_sweep", "SweepResult", "dead_row", "n_jobs", "check_int", "COMPILE_ESTIMATE_S"]

#: CPU seconds a first use of the compiled kernel takes to build it (BENCHMARKS.md, "Kernel compile
#: time"); what the one-time notice says.
COMPILE_ESTIMATE_S = 25


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: this sweep's rows (sorted by task id) and counts."""

    table: pd.DataFrame
    n_computed: int
    n_skipped: int
    wall_s: float
    task_ids: list[str] = field(default_factory=list)
    n_retried: int = 0
    n_copied: int = 0

    @property
    def failures(self) -> dict[str, int]:
        """Failure rows of this sweep by reason (status), most frequent first."""
        return failure_counts(self.table)


def check_int(name: str, value: Any, minimum: int, extra: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f"{name} must be an integer >= {minimum}{extra}, got {value!r}")


def n_jobs(jobs: Any) -> int:
    """Worker processes for ``jobs`` (-1: every core), at most the cores there are: more only
    compete for them (and each worker costs a process start and its memory)."""
    cores = os.cpu_count() or 1
    if jobs == -1:
        return cores
    check_int("jobs", jobs, 1, " (or -1 for all cores)")
    if jobs > cores:
        warnings.warn(f"--jobs {jobs} is more than this machine's {cores} cores; using {cores}",
                      stacklevel=2)
        return cores
    return jobs


def dead_row(task: Task, message: str) -> dict:
    """The row of a task whose worker process died running it."""
    traj = Trajectory(t=np.zeros(1), x=np.zeros((1, 1)), step_t=np.zeros(1), status=STATUS_WORKER_DIED,
                      message=f"worker process died running this task: {message}")
    return measure(task, traj, float("nan"))


def _compile_first(tasks: Sequence[Task], notify: Callable[[str], None] | None) -> None:
    """Build (or load) the compiled kernels the numba tasks need here, in the driver, before workers
    start: they then load them from the cache instead of each compiling them."""
    methods = sorted({t.solver.method for t in tasks if t.solver.backend == "numba"})
    if not methods:
        return
    from .solve import compiled

    if compiled.kernel_cached(methods):
        return  # each worker loads it on its first network; loading it here first would be serial time
    if notify is not None:
        notify(f"compiling the solver kernel for this machine (once, ~{COMPILE_ESTIMATE_S} s; "
               f"cached in {compiled.CACHE})")
    compiled.warm_up(methods)


@contextlib.contextmanager
def _pool(scheduler: Any, jobs: int, executor: Callable | None, runner, timeout: float,
          store: ResultStore, stall_timeout: float | None):
    if scheduler is not None:
        with X.dask_client(scheduler, timeout, log_dir=store.log_dir, local_dir=store.tmp_dir) as client:
            yield X.DaskPool(client, runner, stall_timeout=stall_timeout)
    elif executor is not None or jobs > 1:
        yield X.JoblibPool(jobs, runner, executor, tmp_dir=store.tmp_dir, stall_timeout=stall_timeout)
    else:
        yield X.InProcessPool(runner)


def _copy_rows(store: ResultStore, donors: Sequence[str | Path], wanted: set[str],
               ok_only: bool) -> set[str]:
    """Write into ``store``, as one shard, the rows of ``wanted`` that the ``donors`` stores hold;
    return their task ids. A task id hashes everything its row depends on (:attr:`Task.task_id`),
    so a row computed for another study is this study's row. A donor that cannot be read (another
    schema, an unreadable shard) is skipped with a one-line warning: its tasks are computed."""
    rows: dict[str, dict] = {}
    for path in donors:
        path = Path(path)
        if not (path / "store.json").exists() or path.resolve() == store.path.resolve():
            continue
        try:
            got = ResultStore(path, SCHEMA_VERSION).rows_of(wanted - rows.keys(), ok_only)
        except SpecError as e:  # SchemaMismatch, StoreError
            warnings.warn(f"rows of {str(path)!r} not copied: {e}", stacklevel=3)
            continue
        for row in got:
            rows.setdefault(row["task_id"], row)
    if rows:
        # the versions first: a run killed between the two never leaves another version's rows unsaid
        store.record_writers(sorted({r["trajlen_version"] for r in rows.values()
                                     if r.get("trajlen_version")}))
        store.write_shard([rows[i] for i in sorted(rows)])
    return set(rows)


def _default_chunk(todo: Sequence[Task]) -> int:
    # torch chunks are batches; a numba network takes milliseconds, so small units would spend
    # their time in scheduling and shard writes rather than solving.
    fast = any(t.solver.backend in ("torch", "numba") for t in todo)
    return 64 if fast else 4


def _units(todo: list[Task], chunk_size: int | None, workers: int) -> list[list[Task]]:
    """The units the pool runs, each written as one shard."""
    torch = any(t.solver.backend == "torch" for t in todo)
    if not torch:  # torch chunks are batches: keep a configuration's networks together
        todo = round_robin(todo)
    if chunk_size is not None:
        return chunks(todo, chunk_size)
    # a torch unit is a batch: its size is the batch size, not a scheduling choice
    return plan_units(todo, _default_chunk(todo), 1 if torch else workers)


def run_sweep(tasks: Sequence[Task], out: str | Path, jobs: int = 1, chunk_size: int | None = None,
              progress: bool = True, executor: Callable | None = None, *,
              scheduler: Any = None, max_retries: int = 2,
              runner: Callable[[Sequence[Task]], list[dict]] | None = None,
              connect_timeout: float = X.CONNECT_TIMEOUT_S,
              stall_timeout: float | None = X.STALL_TIMEOUT_S,
              notify: Callable[[str], None] | None = None, retry_failed: bool = False,
              max_memory: int | None = None, command: Sequence[str] | None = None,
              reuse: Sequence[str | Path] = ()) -> SweepResult:
    """Run the tasks not yet in the store at ``out`` and return this sweep's rows.

    Parameters
    ----------
    tasks : from :func:`trajlen.tasks.build_tasks`.
    out : result store directory (created if absent; locked for the duration of the sweep).
    jobs : local worker processes; 1 runs in this process, -1 uses every core (never more than
        the cores there are).
    chunk_size : tasks per worker chunk and per result shard. Default: 4 scipy, 64 torch or numba;
        on several local workers the numba and scipy units run heaviest first and shrink towards
        the end of the sweep (:func:`trajlen.balance.plan_units`) so the workers finish together.
    progress : show a progress bar.
    executor : a callable returning a ``joblib.Parallel``-like object to run chunks on instead.
    scheduler : a dask scheduler address (``"tcp://HOST:8786"``), ``"local"``/``"local:N"`` for a
        LocalCluster, or a ``distributed.Client``; overrides ``jobs`` and ``executor``.
    max_retries : times a task whose worker died is run again alone before it is recorded as a
        ``worker_died`` row (local workers; dask retries on its own).
    runner : the function a worker applies to a chunk (default :func:`trajlen.pipeline.run_tasks`);
        tests inject faults through it.
    connect_timeout : seconds to wait for a scheduler address to answer and for its first worker.
    stall_timeout : seconds without a finished chunk or a working worker after which the sweep
        raises :class:`trajlen.execute.Stalled` (None or 0: never); not for ``jobs=1``.
    notify : called with a one-line message when the compiled kernel is built for this machine
        (first use), before any worker starts.
    retry_failed : compute the store's failed rows of these tasks again (their old rows go).
    max_memory : bytes the networks in memory at once may use (default: this machine's memory);
        a sweep that cannot fit is refused before any work (:mod:`trajlen.resources`).
    command : the command line, recorded in the store's ``store.json``.
    reuse : other stores: rows they hold for these tasks are copied into this one instead of being
        computed (same task id, same computation; ``python -m trajlen.reproduce`` passes the stores
        of the other studies it runs). Never a dead worker's row; only ``ok`` rows with
        ``retry_failed``.

    Each chunk's rows are written as one shard by this process as soon as the chunk finishes, so an
    interrupted sweep loses at most the chunks in flight, and a rerun computes only what is missing.
    Rows come back sorted by task id and are identical whatever ran them (timings aside).
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    if chunk_size is not None:
        check_int("chunk size", chunk_size, 1)
    check_int("max retries", max_retries, 0)
    workers = n_jobs(jobs)
    if scheduler is not None and isinstance(scheduler, str):
        X.validate_scheduler(scheduler)
    check_memory(tasks, 1 if scheduler is not None else workers, max_memory)
    store = ResultStore(out, SCHEMA_VERSION)
    with store.lock():
        store.probe_writable()
        if command is not None:
            store.record_command(command)
        store.plan([t.task_id for t in tasks])  # this sweep's shards are not foreign
        ids = {t.task_id for t in tasks}
        retried = 0
        if retry_failed:
            failed = ids & (store.done_ids() - store.done_ids(retry_failed=True))
            retried = store.drop_tasks(failed) if failed else 0
        done = store.done_ids()
        todo = [t for t in tasks if t.task_id not in done]
        copied = _copy_rows(store, reuse, {t.task_id for t in todo}, retry_failed) if reuse else set()
        todo = [t for t in todo if t.task_id not in copied]
        units = _units(todo, chunk_size, workers)
        _compile_first(todo, notify)
        bar = tqdm(total=len(todo), desc="networks", unit="net", disable=not progress or not todo,
                   dynamic_ncols=True)

        def on_rows(unit: list[Task], rows: list[dict]) -> None:
            store.write_shard(rows)
            bar.update(len(rows))

        def on_dead(task: Task, message: str) -> None:
            store.write_shard([dead_row(task, message)])
            bar.update(1)

        try:
            if units:
                # no more local workers than chunks: each one costs a process start
                with _pool(scheduler, min(workers, len(units)), executor, runner, connect_timeout,
                           store, stall_timeout) as pool:
                    X.drive(pool, units, on_rows, on_dead, max_retries=max_retries)
        finally:
            bar.close()
        table = store.consolidate()
    mine = table[table["task_id"].isin(ids)].reset_index(drop=True) if not table.empty else table
    return SweepResult(mine, len(todo), len(tasks) - len(todo) - len(copied),
                       time.perf_counter() - start, [t.task_id for t in tasks], retried, len(copied))
