"""Pipeline stage 5½ (dask) — units as futures on a ``distributed`` cluster; its start, its logs.

:func:`dask_client` connects to a scheduler address or starts a ``LocalCluster`` (bounded by
``--connect-timeout``; any failure is one line naming ``--scheduler``). While it is open, the
``distributed`` loggers of this process write to ``OUT/logs/distributed.log`` instead of the terminal,
and the stderr of a LocalCluster's worker processes goes to ``OUT/logs/worker-<pid>.log`` from their
start (:func:`dask_setup`, a dask preload: restarted workers too); the terminal gets one line per
worker that leaves the cluster (:class:`trajlen.execute.WorkerLost`).
:class:`DaskPool` turns every future's end — rows, ``KilledWorker``, cancellation, any exception —
into an outcome for :func:`trajlen.execute.drive`, and raises :class:`trajlen.execute.Stalled` when
no unit finishes and none is processing on a connected worker for ``stall_timeout`` seconds (e.g. a
cluster whose workers are all gone).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .execute import (
    CONNECT_TIMEOUT_S,
    POLL_S,
    Died,
    Stalled,
    WorkerLost,
    run_unit,
    stall_message,
    validate_scheduler,
)
from .spec import SpecError

__all__ = ["DaskPool", "dask_client", "dask_setup"]

#: Seconds allowed for closing a client or a LocalCluster (its workers are killed after that).
CLOSE_TIMEOUT_S = 10.0
_LOGGERS = ("distributed", "dask", "tornado")


def _first_line(e: BaseException) -> str:
    try:
        text = str(e)
    except Exception:  # noqa: BLE001 — an exception whose __str__ fails still names its type
        text = ""
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


class DaskPool:
    """Units as futures on a ``distributed.Client``, results as they complete.

    We submit futures ourselves rather than through joblib's dask backend: that backend never
    delivers a ``KilledWorker`` to ``Parallel`` (it sets the exception on a future nobody waits for),
    so a sweep whose worker died would hang forever.
    """

    def __init__(self, client, runner=None, stall_timeout: float | None = None):
        self.client = client
        self.runner = runner
        self.stall_timeout = stall_timeout
        self.width = max(1, sum(client.nthreads().values()))
        # The parent-death guard is for workers that are this process's children (a LocalCluster's).
        cluster = getattr(client, "cluster", None)
        self.driver_pid = os.getpid() if type(cluster).__name__ == "LocalCluster" else None

    def run(self, units: Sequence[list]) -> Iterator[tuple[int, Any]]:
        from distributed import wait

        futures = {}
        try:
            for i, u in enumerate(units):
                fut = self.client.submit(run_unit, i, u, self.runner, None, self.driver_pid,
                                         pure=False, key=f"trajlen-unit-{uuid.uuid4().hex}")
                futures[fut] = i
            pending = set(futures)
            last = time.monotonic()
            workers = self._processing() or {}
            while pending:
                try:
                    done = wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED").done
                except TimeoutError:
                    done = set()
                for fut in done:
                    pending.discard(fut)
                    yield futures[fut], self._outcome(fut, len(units))
                now_workers = self._processing()
                if now_workers is not None:
                    for addr in sorted(set(workers) - set(now_workers)):
                        warnings.warn(f"dask worker {addr} left the cluster ({len(now_workers)} "
                                      "remain); its units are rerun", WorkerLost, stacklevel=3)
                    workers = now_workers
                keys = {f.key for f in pending}
                busy = now_workers is not None and any(keys.intersection(k) for k in now_workers.values())
                if done or busy:
                    last = time.monotonic()
                elif self.stall_timeout and pending and time.monotonic() - last > self.stall_timeout:
                    why = (f"the cluster has {len(now_workers)} worker(s)" if now_workers is not None
                           else "the scheduler does not answer")
                    raise Stalled(stall_message(self.stall_timeout, why))
        finally:
            with contextlib.suppress(Exception):
                self.client.cancel(list(futures))

    def _processing(self) -> dict | None:
        """{worker address: keys it is processing}, or None if the scheduler does not answer."""
        try:
            return self.client.sync(self.client.scheduler.processing, workers=None,
                                    callback_timeout=max(POLL_S, 5.0))
        except Exception:  # noqa: BLE001 — no answer, whatever the reason: no sign of progress
            return None

    @staticmethod
    def _outcome(fut, n_units: int):
        """A finished future as an outcome for :func:`trajlen.execute.drive`."""
        from distributed.scheduler import KilledWorker

        if fut.status == "finished":
            try:
                return fut.result(timeout=CLOSE_TIMEOUT_S)[1]
            except Exception as e:  # noqa: BLE001 — the result could not be fetched
                return Died(f"result lost ({_first_line(e)})")
        if fut.status == "error":
            try:
                exc = fut.exception(timeout=CLOSE_TIMEOUT_S)
            except Exception as e:  # noqa: BLE001
                exc = e
            if isinstance(exc, SpecError):
                raise SpecError(str(exc)) from None
            if isinstance(exc, KilledWorker):
                # The scheduler has retried it already (final), but a task merely queued
                # on the dying worker gets KilledWorker too: certain only when alone.
                return Died(_first_line(exc), certain=n_units == 1, final=True)
            return Died(_first_line(exc), certain=True, final=True)
        # cancelled or lost: the scheduler dropped it; run again, alone in the end (bounded retries)
        return Died(f"the dask scheduler dropped it (future {fut.status})")


class _FileLog(logging.Handler):
    """A log file. Not a ``StreamHandler``: ``distributed`` silences those during a cluster's life."""

    def __init__(self, path: Path):
        super().__init__(logging.INFO)
        self.fh = open(path, "a", buffering=1)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.fh.write(self.format(record) + "\n")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.fh.close()
        super().close()


@contextlib.contextmanager
def _logs_to(log_dir: Path | None) -> Iterator[None]:
    """This process's dask/distributed logs to ``log_dir/distributed.log`` (not the terminal)."""
    if log_dir is None:
        yield
        return
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = _FileLog(log_dir / "distributed.log")
    saved = []
    for name in _LOGGERS:
        lg = logging.getLogger(name)
        saved.append((lg, lg.handlers[:], lg.propagate))
        lg.handlers, lg.propagate = [handler], False
    try:
        yield
    finally:
        for lg, handlers, propagate in saved:
            lg.handlers, lg.propagate = handlers, propagate
        handler.close()


#: Environment variable naming the directory a LocalCluster worker sends its stderr to.
WORKER_LOG_ENV = "TRAJLEN_WORKER_LOG_DIR"


def dask_setup(worker) -> None:
    """dask preload hook (``preload=["trajlen.cluster"]``), run in a LocalCluster worker process as it
    starts, restarts included: its stderr, and so its logs and tracebacks, to
    ``$TRAJLEN_WORKER_LOG_DIR/worker-<pid>.log``."""
    log_dir = os.environ.get(WORKER_LOG_ENV)
    if not log_dir:
        return
    fd = os.open(os.path.join(log_dir, f"worker-{os.getpid()}.log"),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)


def _start_local_cluster(n: int, timeout: float, local_dir: Path | None, log_dir: Path | None):
    """A LocalCluster of ``n`` single-threaded worker processes, started within ``timeout`` s.

    Started in a helper thread so that a start that hangs is abandoned (and closed by the helper if
    it ever finishes) rather than waited on forever."""
    from distributed import LocalCluster

    box: dict[str, Any] = {}
    abandoned = threading.Event()

    import dask

    scratch = {}
    if local_dir is not None:  # workers' and scheduler's scratch space under OUT/tmp, not /tmp
        local_dir.mkdir(parents=True, exist_ok=True)
        scratch = {"temporary-directory": str(local_dir)}

    logs = {} if log_dir is None else {"preload": ["trajlen.cluster"],
                                       "env": {WORKER_LOG_ENV: str(log_dir)}}

    def start() -> None:
        try:
            with dask.config.set(scratch):
                # no dashboard; the scheduler's HTTP server on a free port (its default, 8787, may
                # be taken: a warning on the terminal)
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR,
                                       scheduler_kwargs={"dashboard_address": ":0"}, **logs)
        except BaseException as e:  # noqa: BLE001 — reported by the waiting thread
            box["error"] = e
            return
        box["cluster"] = cluster
        if abandoned.is_set():
            with contextlib.suppress(Exception):
                cluster.close(timeout=CLOSE_TIMEOUT_S)

    t = threading.Thread(target=start, daemon=True, name="trajlen-localcluster-start")
    with _sigint_ignored():  # workers inherit SIGINT ignored: Ctrl-C reaches only this process
        t.start()
        t.join(timeout)
    if t.is_alive():
        abandoned.set()
        raise SpecError(f"--scheduler local:{n}: the cluster did not start within {timeout:g} s "
                        "(--connect-timeout)")
    if "error" in box:
        raise SpecError(f"--scheduler local:{n}: the cluster failed to start "
                        f"({_first_line(box['error'])}); see OUT/logs/distributed.log")
    return box["cluster"]


@contextlib.contextmanager
def dask_client(scheduler: Any, timeout: float = CONNECT_TIMEOUT_S, log_dir: str | Path | None = None,
                local_dir: str | Path | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``: a Client (used as is), ``"local"``/``"local:N"``
    (a LocalCluster of N single-threaded worker processes, closed afterwards) or an address.

    ``log_dir`` receives the logs (module docstring); ``local_dir`` the LocalCluster workers'
    scratch space. Connection and start problems raise :class:`SpecError` naming ``--scheduler``.
    """
    try:
        from distributed import Client
    except ImportError:
        raise SpecError("--scheduler needs dask.distributed: pip install 'trajlen[dask]'") from None
    if isinstance(scheduler, Client):
        with _logs_to(None if log_dir is None else Path(log_dir)):
            yield scheduler
        return
    validate_scheduler(scheduler)
    log_dir = None if log_dir is None else Path(log_dir)
    with _logs_to(log_dir):
        cluster = client = None
        try:
            if scheduler.startswith("local"):
                n = int(scheduler.partition(":")[2] or (os.cpu_count() or 1))
                cluster = _start_local_cluster(n, timeout, None if local_dir is None else Path(local_dir),
                                               log_dir)
                client = Client(cluster, timeout=timeout)
            else:
                client = Client(scheduler, timeout=timeout)
        except SpecError:
            raise
        except Exception as e:  # noqa: BLE001 — OSError, TimeoutError, and whatever distributed raises
            _close(client, cluster)
            raise SpecError(f"--scheduler {scheduler}: cannot connect ({_first_line(e)})") from None
        try:
            _check_workers(client, scheduler, timeout)
            yield client
        finally:
            _close(client, cluster)


def _close(client, cluster) -> None:
    for thing in (client, cluster):
        if thing is not None:
            with contextlib.suppress(Exception):
                thing.close(timeout=CLOSE_TIMEOUT_S)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    import signal

    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _worker_trajlen_version() -> str:
    from . import __version__

    return __version__


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
                        f"worker's environment): {_first_line(e)}") from None
    other = sorted({v for v in found.values() if v != __version__})
    if other:
        raise SpecError(f"--scheduler {scheduler}: workers run trajlen {', '.join(other)}, this is "
                        f"{__version__}; install the same version everywhere")
