"""Pipeline stage 5½ — where chunks of tasks run: in this process, on local joblib workers, or on a
dask cluster (:mod:`trajlen.cluster`); how a sweep survives a worker that dies, and why it always ends.

A *unit* is a list of tasks run together on one worker (a chunk, or a single task while a culprit is
being isolated). A pool's :meth:`run` yields ``(index, outcome)`` for every unit it was given, in
completion order; the outcome is the unit's rows, :data:`NOT_RUN` (a crash aborted the batch before the
unit started: run it again, no blame) or a :class:`Died` (the unit was running when its worker process
died, or its runner raised). :func:`drive` turns these into shards and, when a worker dies, isolates
the task that killed it:

1. a chunk that was running when a worker died is split into single tasks, run again in parallel;
2. a single task that was running when a worker died becomes a *suspect* and is later run alone, so
   its death can only be its own fault (an innocent task that merely shared the pool is cleared);
3. a suspect that kills its worker when running alone more than ``max_retries`` times is recorded as
   a ``worker_died`` failure row — the sweep finishes and a rerun does not try it again.

A sweep always ends. A pool raises :class:`Stalled` when for ``stall_timeout`` seconds no unit has
finished and no worker has shown that it is working on one: local workers touch their unit's marker
file every :data:`HEARTBEAT_S` (a stopped or frozen process stops touching it; until the first sign
of life in a batch, :data:`START_GRACE_S` at least is allowed for starting workers); on dask, a unit is
alive while the scheduler reports it processing on a connected worker (a cluster with no workers has
none). A slow unit is therefore never a stall; lost or frozen workers are.

Workers die with their driver: a worker that is a child process of the driver (loky, and the workers
of a dask ``LocalCluster``) runs a guard thread that exits the process as soon as its parent is gone
(its parent pid changes), so a SIGKILLed sweep leaves no process computing. (The guard runs between
Python bytecodes: a compiled numba call holding the GIL finishes first.)

The rows never depend on where a unit ran: every task is computed by :func:`run_unit` with BLAS
limited to one thread (scipy tasks), so thread counts cannot change rounding.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .pipeline import Task, run_tasks
from .spec import SpecError

__all__ = ["NOT_RUN", "Died", "Stalled", "WorkerLost", "run_unit", "InProcessPool", "JoblibPool",
           "drive", "validate_scheduler"]  # and, from trajlen.cluster: DaskPool, dask_client

Runner = Callable[[Sequence[Task]], list[dict]]
Unit = list[Task]

#: How long to wait for a dask scheduler (or a LocalCluster) to answer and for its first worker, s.
CONNECT_TIMEOUT_S = 20.0
#: A sweep with no finished unit and no sign of a working worker for this long ends (exit status 3).
STALL_TIMEOUT_S = 300.0
#: How often a local worker proves it is alive (touches its unit's marker) and checks its parent.
HEARTBEAT_S = 1.0
#: How often a pool looks at its workers while it waits for results.
POLL_S = 0.5
#: Local workers may take this long to show the first sign of life in a batch (process start and
#: imports on a loaded machine) before a shorter ``stall_timeout`` applies.
START_GRACE_S = 60.0
#: Exit status of a worker process whose driver died.
EXIT_ORPHANED = 70

_SCHEDULER_RE = re.compile(r"^(local(:[1-9][0-9]*)?|[a-z][a-z0-9+.-]*://\S+)$")


class _NotRun:
    def __repr__(self) -> str:
        return "NOT_RUN"


NOT_RUN = _NotRun()


@dataclass(frozen=True)
class Died:
    """The unit was running when its worker died (or its runner raised).

    ``certain``: it was the only unit running, so it was the cause. ``final``: retrying cannot help
    (dask's ``KilledWorker``: the scheduler retried already; an exception the runner raised).
    """

    message: str
    certain: bool = False
    final: bool = False


class Stalled(RuntimeError):
    """No unit finished and no worker worked for ``--stall-timeout`` seconds; the sweep ends."""


class WorkerLost(UserWarning):
    """A worker process died or left the cluster (one line each; the sweep recovers)."""


def stall_message(timeout: float, why: str) -> str:
    return f"no unit finished and no worker worked on one for {timeout:g} s (--stall-timeout): {why}"


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


_guard: dict[str, Any] = {"thread": None, "marker": None}


def _guard_loop(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # reparented: the driver is gone, nobody will read our rows
            os._exit(EXIT_ORPHANED)
        marker = _guard["marker"]
        if marker is not None:
            with contextlib.suppress(OSError):
                os.utime(marker)  # heartbeat: this worker is alive and on its unit
        time.sleep(HEARTBEAT_S)


def _start_guard(driver_pid: int | None) -> None:
    """In a worker process whose parent is the driver: start the guard thread (once)."""
    if driver_pid is None or os.getpid() == driver_pid or os.getppid() != driver_pid:
        return  # in the driver itself, or not its child (a remote worker): nothing to guard
    if _guard["thread"] is None:
        t = threading.Thread(target=_guard_loop, args=(driver_pid,), daemon=True,
                             name="trajlen-worker-guard")
        t.start()
        _guard["thread"] = t


def run_unit(index: int, unit: Unit, runner: Runner | None = None, marker: str | None = None,
             driver_pid: int | None = None) -> tuple[int, Any]:
    """Worker side: run one unit and return ``(index, rows)``, or ``(index, Died)`` if the runner
    raised (a :class:`SpecError` — bad input — propagates).

    ``marker`` (local pools only) is a file that exists while the unit runs, holding this process's
    pid, so that after a pool crash the driver knows which units were running (and, on a stall, which
    processes to stop); it is touched every :data:`HEARTBEAT_S` as a heartbeat. ``driver_pid``: the
    driver's pid, to start the parent-death guard in its child processes. Scipy units run with one
    BLAS thread: worker pools provide the parallelism, and results must not depend on how many
    threads a BLAS call used.
    """
    _start_guard(driver_pid)
    if marker is not None:
        Path(marker).write_text(str(os.getpid()))
        _guard["marker"] = marker
    runner = run_tasks if runner is None else runner
    try:
        if any(t.solver.backend == "torch" for t in unit):
            rows = runner(unit)
        else:
            with _one_blas_thread():
                rows = runner(unit)
    except SpecError:
        raise
    except Exception as e:  # noqa: BLE001 — the runner's own failure: a recorded row, not a crash
        text = str(e).splitlines()[0] if str(e) else ""
        rows = Died(f"{type(e).__name__}: {text}", certain=True, final=True)
    finally:
        _guard["marker"] = None
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


def _kill_children(pids: Sequence[int]) -> None:
    """SIGKILL those of ``pids`` that are still this process's children (never anyone else's)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with distributed
        return
    for pid in pids:
        with contextlib.suppress(psutil.Error, OSError):
            if psutil.Process(pid).ppid() == os.getpid():
                os.kill(pid, signal.SIGKILL)


class JoblibPool:
    """Units on ``n_jobs`` joblib worker processes (loky), results as they complete.

    ``executor``, if given, is called with no argument and must return a ``joblib.Parallel``-like
    callable (e.g. ``lambda: Parallel(n_jobs=4, backend="loky", return_as="generator_unordered")``).
    ``tmp_dir``: where the running markers and joblib's memmapping folder go (the store's ``tmp/``;
    default the system's). ``stall_timeout``: see the module docstring (None: wait forever).
    """

    def __init__(self, n_jobs: int, runner: Runner | None = None, executor: Callable | None = None,
                 tmp_dir: str | Path | None = None, stall_timeout: float | None = None):
        self.width = max(2, n_jobs)  # one task alone must still run in a worker, not in the driver
        self.runner = runner
        self.executor = executor
        self.tmp_dir = None if tmp_dir is None else Path(tmp_dir)
        self.stall_timeout = stall_timeout
        self.deaths = 0

    def _parallel(self):
        from joblib import Parallel

        if self.executor is not None:
            return self.executor()
        # batch_size=1: a unit is already a chunk; joblib's auto-batching would queue several
        # on one worker while the other idles.
        temp = None if self.tmp_dir is None else str(self.tmp_dir / "joblib")
        return Parallel(n_jobs=self.width, return_as="generator_unordered", batch_size=1,
                        temp_folder=temp)

    def run(self, units: Sequence[Unit]) -> Iterator[tuple[int, Any]]:
        from joblib import delayed

        if self.tmp_dir is not None:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
        marks = Path(tempfile.mkdtemp(prefix="trajlen-running-", dir=self.tmp_dir))
        calls = (delayed(run_unit)(i, u, self.runner, str(marks / str(i)), os.getpid())
                 for i, u in enumerate(units))
        results: queue.Queue = queue.Queue()
        par = self._parallel()

        def pump() -> None:  # joblib's generator blocks: read it here, watch the workers there
            try:
                for item in par(calls):
                    results.put(("rows", item))
                results.put(("end", None))
            except BaseException as e:  # noqa: BLE001 — handed to the driver thread
                results.put(("error", e))

        thread = threading.Thread(target=pump, daemon=True, name="trajlen-joblib-results")
        thread.start()
        done: set[int] = set()
        ended = False
        try:
            last, started = time.time(), False
            while True:
                try:
                    kind, item = results.get(timeout=POLL_S)
                except queue.Empty:
                    beat = _newest_mtime(marks)
                    started = started or beat > 0
                    last = max(last, beat)
                    limit = self.stall_timeout if started else max(self.stall_timeout or 0, START_GRACE_S)
                    if self.stall_timeout and time.time() - last > limit:
                        raise Stalled(stall_message(self.stall_timeout, "the local worker processes "
                                                    "are stopped or hung")) from None
                    continue
                if kind == "rows":
                    done.add(item[0])
                    last, started = time.time(), True
                    yield item
                    continue
                ended = True
                if kind == "error":
                    if not isinstance(item, _worker_death_errors()):
                        raise item
                    yield from self._after_death(item, units, done, marks)
                return
        finally:
            if not ended:  # interrupted, stalled, or abandoned: stop what is still running
                _kill_children(_marker_pids(marks))
                thread.join(timeout=10)
            shutil.rmtree(marks, ignore_errors=True)

    def _after_death(self, error: BaseException, units, done: set[int], marks: Path):
        msg = str(error).splitlines()[0]
        running = [i for i in range(len(units)) if i not in done and (marks / str(i)).exists()]
        self.deaths += 1
        warnings.warn(f"a local worker process died ({msg}); rerunning the {len(running)} unit(s) it "
                      f"may have been running (death {self.deaths} of this sweep)", WorkerLost,
                      stacklevel=4)
        for i in range(len(units)):
            if i not in done:
                yield i, Died(msg, certain=len(running) == 1) if i in running else NOT_RUN


def release_local_workers() -> None:
    """Stop joblib's reusable worker processes now, without waiting for them: at interpreter exit
    loky would join them, ~0.5 s of a two-worker sweep's wall time measured serial. For a process
    that is about to exit (the CLIs); a later sweep in the same process would start new workers."""
    mod = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(mod, "_executor", None) if mod is not None else None
    if executor is not None:
        executor.shutdown(wait=False, kill_workers=True)


def _newest_mtime(marks: Path) -> float:
    newest = 0.0
    for m in marks.iterdir() if marks.is_dir() else ():
        with contextlib.suppress(OSError):
            newest = max(newest, m.stat().st_mtime)
    return newest


def _marker_pids(marks: Path) -> list[int]:
    pids = []
    for m in marks.iterdir() if marks.is_dir() else ():
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(m.read_text()))
    return pids


def drive(pool, units: Sequence[Unit], on_rows: Callable[[Unit, list[dict]], None],
          on_dead: Callable[[Task, str], None], max_retries: int = 2) -> None:
    """Run ``units`` on ``pool`` until every task has rows or is declared dead (module docstring).

    ``on_rows(unit, rows)`` is called as each unit completes (the caller writes its shard);
    ``on_dead(task, message)`` for a task that killed its worker ``max_retries + 1`` times alone.
    Work that cannot be blamed runs first: units a crash merely aborted, then the tasks of chunks
    that were running when a worker died (in parallel), and only then, one at a time, the suspects.
    A pool's :class:`Stalled` propagates (every shard written so far is kept).
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


def __getattr__(name: str):
    """``DaskPool`` and ``dask_client`` live in :mod:`trajlen.cluster` (imported on first use)."""
    if name in ("DaskPool", "dask_client"):
        from . import cluster

        return getattr(cluster, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
