"""Pipeline stage 5½ — where chunks of tasks run: in this process, on local joblib workers, or on a
dask cluster; and how a sweep survives a worker that dies.

A *unit* is a list of tasks run together on one worker (a chunk, or a single task while a culprit is
being isolated). A pool's :meth:`run` yields ``(index, outcome)`` for every unit it was given, in
completion order; the outcome is the unit's rows, :data:`NOT_RUN` (a crash aborted the batch before the
unit started: run it again, no blame) or a :class:`Died` (the unit was running when its worker process
died). :func:`drive` turns these into shards and, when a worker dies, isolates the task that killed it:

1. a chunk that was running when a worker died is split into single tasks, run again in parallel;
2. a single task that was running when a worker died becomes a *suspect* and is later run alone, so
   its death can only be its own fault (an innocent task that merely shared the pool is cleared);
3. a suspect that kills its worker when running alone more than ``max_retries`` times is recorded as
   a ``worker_died`` failure row — the sweep finishes and a rerun does not try it again.

Local joblib (loky) workers report which units are *running* through marker files in a temporary
directory (a crashed pool says only that some worker died, and takes every running unit with it).
On dask, the scheduler already re-runs a task whose worker died on other workers
(``distributed.scheduler.allowed-failures``, default 3) before it raises ``KilledWorker``; a task
queued on the same worker can be caught too, so a single task with ``KilledWorker`` is still run
alone once, and recorded if it fails again.

The rows never depend on where a unit ran: every task is computed by :func:`run_unit` with BLAS
limited to one thread (scipy tasks), so thread counts cannot change rounding.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .pipeline import Task, run_tasks
from .spec import SpecError

__all__ = ["NOT_RUN", "Died", "run_unit", "InProcessPool", "JoblibPool", "DaskPool", "drive",
           "dask_client", "validate_scheduler"]

Runner = Callable[[Sequence[Task]], list[dict]]
Unit = list[Task]

#: How long to wait for a dask scheduler to answer and for its first worker, in seconds.
CONNECT_TIMEOUT_S = 20.0

_SCHEDULER_RE = re.compile(r"^(local(:[1-9][0-9]*)?|[a-z][a-z0-9+.-]*://\S+)$")


class _NotRun:
    def __repr__(self) -> str:
        return "NOT_RUN"


NOT_RUN = _NotRun()


@dataclass(frozen=True)
class Died:
    """The unit was running when its worker died.

    ``certain``: it was the only unit running, so it was the cause. ``final``: the executor has
    already retried it on other workers (dask's ``KilledWorker``): record it without retrying.
    """

    message: str
    certain: bool = False
    final: bool = False


_controller = None


def _one_blas_thread():
    """Context limiting BLAS/OpenMP pools to one thread (cached controller: introspection is slow)."""
    global _controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn and joblib
        return contextlib.nullcontext()
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1)


def run_unit(index: int, unit: Unit, runner: Runner | None = None,
             marker: str | None = None) -> tuple[int, list[dict]]:
    """Worker side: run one unit and return ``(index, rows)``.

    ``marker`` (local pools only) is a file that exists while the unit runs, so that after a pool
    crash the driver knows which units were running. Scipy units run with one BLAS thread: worker
    pools provide the parallelism, and results must not depend on how many threads a BLAS call used.
    """
    if marker is not None:
        Path(marker).touch()
    runner = run_tasks if runner is None else runner
    if any(t.solver.backend == "torch" for t in unit):
        rows = runner(unit)
    else:
        with _one_blas_thread():
            rows = runner(unit)
    if marker is not None:  # finished: a crash from now on (before the driver has the rows) is
        Path(marker).unlink()  # not this unit's fault
    return index, rows


class InProcessPool:
    """Run units one after another in this process (``--jobs 1``): a hard crash ends the sweep."""

    width = 1

    def __init__(self, runner: Runner | None = None):
        self.runner = runner

    def run(self, units: Sequence[Unit]) -> Iterator[tuple[int, Any]]:
        for i, unit in enumerate(units):
            yield run_unit(i, unit, self.runner)


def _worker_death_errors() -> tuple[type[BaseException], ...]:
    from concurrent.futures.process import BrokenProcessPool

    from joblib.externals.loky.process_executor import TerminatedWorkerError

    return (TerminatedWorkerError, BrokenProcessPool)


class JoblibPool:
    """Units on ``n_jobs`` joblib worker processes (loky), results as they complete.

    ``executor``, if given, is called with no argument and must return a ``joblib.Parallel``-like
    callable (e.g. ``lambda: Parallel(n_jobs=4, backend="loky", return_as="generator_unordered")``).
    """

    def __init__(self, n_jobs: int, runner: Runner | None = None, executor: Callable | None = None):
        self.width = max(2, n_jobs)  # one task alone must still run in a worker, not in the driver
        self.runner = runner
        self.executor = executor

    def run(self, units: Sequence[Unit]) -> Iterator[tuple[int, Any]]:
        from joblib import Parallel, delayed

        marks = Path(tempfile.mkdtemp(prefix="trajlen-running-"))
        done: set[int] = set()
        try:
            # batch_size=1: a unit is already a chunk; joblib's auto-batching would queue several
            # on one worker while the other idles.
            par = (self.executor() if self.executor is not None else
                   Parallel(n_jobs=self.width, return_as="generator_unordered", batch_size=1))
            calls = (delayed(run_unit)(i, u, self.runner, str(marks / str(i)))
                     for i, u in enumerate(units))
            try:
                for i, rows in par(calls):
                    done.add(i)
                    yield i, rows
            except _worker_death_errors() as e:
                msg = str(e).splitlines()[0]
                running = [i for i in range(len(units)) if i not in done and (marks / str(i)).exists()]
                for i in range(len(units)):
                    if i not in done:
                        yield i, Died(msg, certain=len(running) == 1) if i in running else NOT_RUN
        finally:
            shutil.rmtree(marks, ignore_errors=True)


class DaskPool:
    """Units as futures on a ``distributed.Client``, results as they complete.

    We submit futures ourselves rather than through joblib's dask backend: that backend never
    delivers a ``KilledWorker`` to ``Parallel`` (it sets the exception on a future nobody waits for),
    so a sweep whose worker died would hang forever.
    """

    def __init__(self, client, runner: Runner | None = None):
        self.client = client
        self.runner = runner
        self.width = max(1, sum(client.nthreads().values()))

    def run(self, units: Sequence[Unit]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        futures = {}
        try:
            for i, u in enumerate(units):
                fut = self.client.submit(run_unit, i, u, self.runner, None, pure=False,
                                         key=f"trajlen-unit-{uuid.uuid4().hex}")
                futures[fut] = i
            for fut in as_completed(list(futures)):
                i = futures[fut]
                if fut.status == "error":
                    exc = fut.exception()
                    if isinstance(exc, KilledWorker):
                        # The scheduler has retried it already (final), but a task merely queued
                        # on the dying worker gets KilledWorker too: certain only when alone.
                        yield i, Died(str(exc).splitlines()[0], certain=len(units) == 1,
                                      final=True)
                        continue
                    fut.result()  # re-raises the worker's exception with its traceback
                yield i, fut.result()[1]
        finally:
            self.client.cancel(list(futures))


def drive(pool, units: Sequence[Unit], on_rows: Callable[[Unit, list[dict]], None],
          on_dead: Callable[[Task, str], None], max_retries: int = 2) -> None:
    """Run ``units`` on ``pool`` until every task has rows or is declared dead (module docstring).

    ``on_rows(unit, rows)`` is called as each unit completes (the caller writes its shard);
    ``on_dead(task, message)`` for a task that killed its worker ``max_retries + 1`` times alone.
    Work that cannot be blamed runs first: units a crash merely aborted, then the tasks of chunks
    that were running when a worker died (in parallel), and only then, one at a time, the suspects.
    """
    pending: list[Unit] = list(units)  # never involved in a death
    split: list[Unit] = []  # single tasks of a chunk that was running when its worker died
    suspects: list[Unit] = []  # single tasks that were running when their worker died
    deaths: dict[str, int] = {}
    while pending or split or suspects:
        solo = not pending and not split
        if pending:
            batch, pending = pending, []
        elif split:
            batch, split = split, []
        else:
            batch = [suspects.pop(0)]
        for i, out in pool.run(batch):
            unit = batch[i]
            if out is NOT_RUN:
                pending.append(unit)
            elif isinstance(out, Died):
                if len(unit) > 1:
                    split.extend([t] for t in unit)  # isolate the culprit
                    continue
                task = unit[0]
                if not (solo or out.certain):
                    suspects.append(unit)  # maybe an innocent bystander: try it alone later
                    continue
                deaths[task.task_id] = deaths.get(task.task_id, 0) + 1
                if out.final or deaths[task.task_id] > max_retries:
                    on_dead(task, out.message)
                else:
                    suspects.insert(0, unit)
            else:
                on_rows(unit, out)


def validate_scheduler(scheduler: str) -> str:
    """Check the syntax of a ``--scheduler`` value: ``local``, ``local:N`` or a dask address."""
    if not isinstance(scheduler, str) or not _SCHEDULER_RE.match(scheduler):
        raise SpecError(f"--scheduler must be local, local:N (N >= 1) or a dask scheduler address "
                        f"such as tcp://HOST:8786, got {scheduler!r}")
    return scheduler


def _worker_trajlen_version() -> str:
    from . import __version__

    return __version__


@contextlib.contextmanager
def dask_client(scheduler: Any, timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``: a Client (used as is), ``"local"``/``"local:N"``
    (a LocalCluster of N single-threaded worker processes, closed afterwards) or an address.

    Connection problems raise :class:`SpecError` naming ``--scheduler``.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SpecError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
    if isinstance(scheduler, Client):
        yield scheduler
        return
    validate_scheduler(scheduler)
    cluster = None
    try:
        if scheduler.startswith("local"):
            n = int(scheduler.partition(":")[2] or (os.cpu_count() or 1))
            # Workers started with SIGINT ignored ignore it too: Ctrl-C then reaches only this
            # process, which stops the sweep cleanly and closes the cluster (no worker tracebacks).
            with _sigint_ignored():
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        if cluster is not None:
            cluster.close()
        raise SpecError(f"--scheduler {scheduler}: cannot connect ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''})") from None
    try:
        _check_workers(client, scheduler, timeout)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _check_workers(client, scheduler: str, timeout: float) -> None:
    from . import __version__

    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        raise SpecError(f"--scheduler {scheduler}: no worker joined within {timeout:.0f} s "
                        "(start some with: dask worker ADDRESS)") from None
    try:
        found = client.run(_worker_trajlen_version)
    except Exception as e:  # noqa: BLE001 — whatever unpickling on the worker raised
        raise SpecError(f"--scheduler {scheduler}: workers cannot import trajlen (install it in every "
                        f"worker's environment): {type(e).__name__}: {e}") from None
    other = sorted({v for v in found.values() if v != __version__})
    if other:
        raise SpecError(f"--scheduler {scheduler}: workers run trajlen {', '.join(other)}, this is "
                        f"{__version__}; install the same version everywhere")
