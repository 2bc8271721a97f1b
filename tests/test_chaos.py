"""A sweep always ends: worker processes killed at random, frozen, or gone with their whole cluster,
and a driver SIGKILLed, on local joblib workers (``--jobs 2``) and a dask LocalCluster (``local:2``).

Every run must end by itself (within its ``--stall-timeout`` when it cannot progress), print no
traceback, leave no worker process computing, and account for every task exactly once: rows equal to
an undisturbed run's (timings aside), or ``worker_died``. Sweeps run as subprocesses of the real CLI
so that a kill hits a real process tree; the workload is scipy at a tight tolerance (≈0.3 s a task),
so that kills land mid-solve.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from trajlen.driver import run_sweep
from trajlen.pipeline import SCHEMA_VERSION
from trajlen.results import ResultStore, read_results
from trajlen.spec import SpecError
from trajlen.sweep import main
from trajlen.tasks import build_tasks

ROOT = Path(__file__).resolve().parents[1]
GRID = {"model": ["node", "ctrnn", "ltc"], "width": [6], "rtol": [1e-8], "atol": [1e-10],
        "backend": ["scipy"]}
SAMPLES = 6
ARGS = ["--model", "node", "ctrnn", "ltc", "--width", "6", "--rtol", "1e-8", "--atol", "1e-10",
        "--backend", "scipy", "--samples", str(SAMPLES), "--chunk-size", "2",
        "--perturb", "0",   # the sweep CLI defaults to --perturb 1; the in-process tasks have none
        "--quiet"]          # last: ARGS[:-1] is the same sweep without it
WHERE = {"jobs": ["--jobs", "2"], "dask": ["--scheduler", "local:2", "--connect-timeout", "60"]}


def _values(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="wall_s").sort_values("task_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def tasks():
    return build_tasks(GRID, SAMPLES, 0)


@pytest.fixture(scope="module")
def reference(tasks, tmp_path_factory) -> pd.DataFrame:
    res = run_sweep(tasks, tmp_path_factory.mktemp("ref"), jobs=1, progress=False)
    assert (res.table["status"] == "ok").all()
    return _values(res.table)


def _restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(out: Path, where: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trajlen.sweep", *ARGS, *WHERE[where], *extra,
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_restore_sigint)


def _workers(pid: int) -> list[psutil.Process]:
    """The worker processes of a driver: loky's and the LocalCluster's (not resource trackers)."""
    try:
        kids = psutil.Process(pid).children()
    except psutil.Error:
        return []
    out = []
    for k in kids:
        try:
            cmd = " ".join(k.cmdline())
        except psutil.Error:
            continue
        if "popen_loky" in cmd or "spawn_main" in cmd:
            out.append(k)
    return out


def _shards(out: Path) -> int:
    d = out / "shards"
    return len([p for p in d.glob("*.parquet") if not p.name.startswith(".")]) if d.is_dir() else 0


def _wait_until(cond, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the sweep ended early: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail("timed out waiting")


def _reap(procs: list[psutil.Process]) -> None:
    """Test hygiene: SIGKILL whatever of the processes this test saw is still there."""
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass


def _assert_accounted(out: Path, tasks, reference: pd.DataFrame) -> pd.DataFrame:
    """Every task exactly once; ok rows equal the undisturbed run's; the rest worker_died."""
    df = _values(read_results(out))
    assert sorted(df["task_id"]) == sorted(t.task_id for t in tasks)
    assert set(df["status"]) <= {"ok", "worker_died"}
    ok = df["status"] == "ok"
    ref = reference[reference["task_id"].isin(df.loc[ok, "task_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(df[ok].reset_index(drop=True), ref)
    return df


@pytest.mark.slow
@pytest.mark.parametrize("where", ["jobs", "dask"])
def test_random_worker_kills(where, tasks, reference, tmp_path, capsys):
    """Two workers SIGKILLed at random moments mid-sweep; then a bit flip and a type change in
    two shards. The sweep finishes on its own; a rerun repairs the store. (Slow: every death costs
    a worker start, ≈6 s of imports, torch's included.)"""
    out = tmp_path / "store"
    rng = random.Random(where)
    proc = _start(out, where)
    seen: list[psutil.Process] = []
    kills = 0
    units = (len(tasks) + 1) // 2   # --chunk-size 2
    try:
        _wait_until(lambda: _shards(out) >= 1, 120, proc)
        for n in range(2):
            time.sleep(rng.uniform(0.0, 0.2) if n == 0 else rng.uniform(0.2, 1.0))
            live = _workers(proc.pid)
            seen += live
            # only while units are still queued, so that both workers are busy: a worker killed idle
            # in the sweep's last second is replaced with no death to report (seen on a fast machine)
            if proc.poll() is not None or not live or _shards(out) > units - 3:
                break
            rng.choice(live).kill()
            kills += 1
        _, err = proc.communicate(timeout=120)
    finally:
        _reap(seen)
        if proc.poll() is None:
            proc.kill()
    assert kills >= 1
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert all(line.startswith("warning: ") for line in lines), err
    assert 1 <= len(lines) <= 2 * kills + 2  # about one line per death
    if where == "dask":  # distributed's own logs went to files, not the terminal
        assert (out / "logs" / "distributed.log").stat().st_size > 0
        assert list((out / "logs").glob("worker-*.log"))
    _assert_accounted(out, tasks, reference)
    # now damage the store: one flipped bit, one column of the wrong type
    shards = sorted((out / "shards").glob("*.parquet"))
    data = bytearray(shards[0].read_bytes())
    data[len(data) // 3] ^= 0x10
    shards[0].write_bytes(bytes(data))
    frame = pd.read_parquet(shards[1])
    frame["n_accepted"] = frame["n_accepted"].astype(float)
    frame.to_parquet(shards[1], index=False)
    capsys.readouterr()
    assert main([*ARGS, "--jobs", "1", "--out", str(out)]) == 0
    assert 1 <= len(capsys.readouterr().err.strip().splitlines()) <= 2  # the damaged shard(s)
    _assert_accounted(out, tasks, reference)
    assert main([*ARGS[:-1], "--jobs", "1", "--out", str(out)]) == 0  # usable: nothing left to do
    assert f"(0 computed, {len(tasks)} already there" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("where", ["jobs", "dask"])
def test_workers_die_with_their_driver(where, tmp_path):
    """SIGKILL the driver mid-sweep: its worker processes are gone within a few seconds (they used
    to keep computing for minutes), and the next locked run clears their scratch space."""
    out = tmp_path / "store"
    proc = _start(out, where)
    workers: list[psutil.Process] = []
    try:
        _wait_until(lambda: _shards(out) >= 1 and len(_workers(proc.pid)) == 2, 120, proc)
        workers = _workers(proc.pid)
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(w.is_running() and w.status() != "zombie"
                                                  for w in workers):
            time.sleep(0.1)
        alive = [w.pid for w in workers if w.is_running() and w.status() != "zombie"]
        assert not alive, f"workers {alive} outlived their driver"
    finally:
        _reap(workers)
        if proc.poll() is None:
            proc.kill()
    assert (out / "tmp").exists()  # the killed driver's scratch (markers, joblib/dask folders) ...
    with ResultStore(out, SCHEMA_VERSION).lock():
        assert not (out / "tmp").exists()  # ... is cleared by the next locked run


@pytest.mark.slow
def test_frozen_local_workers_end_the_sweep_with_exit_status_3(tmp_path):
    """Both loky workers SIGSTOPped mid-solve: no unit finishes, no heartbeat; the watchdog ends the
    sweep within its --stall-timeout (+ a margin) with one line, keeps the shards, kills the frozen
    workers."""
    out = tmp_path / "store"
    proc = _start(out, "jobs", "--stall-timeout", "3")
    workers: list[psutil.Process] = []
    try:
        _wait_until(lambda: _shards(out) >= 1 and len(_workers(proc.pid)) == 2, 120, proc)
        workers = _workers(proc.pid)
        for w in workers:
            w.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        kept_before = _shards(out)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - stopped
        time.sleep(0.5)
        assert not [w.pid for w in workers if w.is_running() and w.status() not in ("zombie",)]
    finally:
        _reap(workers)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "stalled" in lines[0] and "--stall-timeout" in lines[0], err
    # ends within the stall timeout plus the watchdog's poll and the workers' teardown; a loaded
    # 2-core CI run once took 13.5 s (3 s timeout): the point is that it ends, long before the
    # 60 s communicate() above gives up
    assert took < 3 + 20
    assert _shards(out) >= kept_before


@pytest.mark.parametrize("when", ["at_start", pytest.param("mid_sweep", marks=pytest.mark.slow)])
def test_a_cluster_without_workers_ends_the_sweep(when, tasks, tmp_path):
    """The dask case that used to hang forever: every worker gone (here: the cluster scaled to 0,
    before the sweep or once it has written a shard). The sweep raises Stalled within its stall
    timeout (+ a margin), keeping every shard written."""
    import distributed

    from trajlen.execute import Stalled

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    out = tmp_path / "store"
    gone = {}

    def scale_down():
        while when == "mid_sweep" and _shards(out) < 1:
            time.sleep(0.05)
        cluster.scale(0)
        if when == "at_start":
            while client.nthreads():
                time.sleep(0.05)
        gone["at"] = time.monotonic()

    t = threading.Thread(target=scale_down, daemon=True)
    t.start()
    if when == "at_start":
        t.join(30)
    try:
        with pytest.raises(Stalled, match="has 0 worker"):
            run_sweep(tasks, out, chunk_size=2, progress=False, scheduler=client, stall_timeout=3)
        ended = time.monotonic()
    finally:
        client.close()
        cluster.close()
    assert ended - gone["at"] < 3 + 6
    n = _shards(out)
    assert (n >= 1) == (when == "mid_sweep")
    assert len(read_results(out)) == 2 * n


class _Fut:
    def __init__(self, status, value=None):
        self.status, self.value = status, value

    def result(self, timeout=None):
        return self.value

    def exception(self, timeout=None):
        return self.value


def test_every_end_of_a_dask_future_is_an_outcome():
    """KilledWorker, a cancellation and any exception become outcomes for drive (worker_died rows
    in the end), never an exception out of the sweep; a SpecError (bad input) stays an error."""
    from distributed.scheduler import KilledWorker

    from trajlen.cluster import DaskPool
    from trajlen.execute import Died

    assert DaskPool._outcome(_Fut("finished", (0, [{"task_id": "x"}])), 2) == [{"task_id": "x"}]
    from types import SimpleNamespace

    dead = KilledWorker("trajlen-unit-1", SimpleNamespace(address="tcp://w"), 3)
    killed = DaskPool._outcome(_Fut("error", dead), 2)
    assert isinstance(killed, Died) and killed.final and not killed.certain
    assert killed.message.startswith("KilledWorker: Attempted to run task")
    raised = DaskPool._outcome(_Fut("error", ValueError("boom")), 2)
    assert raised == Died("ValueError: boom", certain=True, final=True)
    dropped = DaskPool._outcome(_Fut("cancelled"), 2)
    assert isinstance(dropped, Died) and not dropped.final
    with pytest.raises(SpecError, match="bad file"):
        DaskPool._outcome(_Fut("error", SpecError("bad file")), 2)


def test_local_cluster_start_is_bounded_and_its_errors_are_one_line(tmp_path, capsys, monkeypatch):
    args = ["--model", "node", "--width", "4", "--samples", "1", "--backend", "scipy", "--quiet"]
    code = main([*args, "--scheduler", "local:1", "--connect-timeout", "0.01",
                 "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "did not start within" in err[0], err
    for t in threading.enumerate():  # the abandoned start closes its cluster when it gets one
        if t.name == "trajlen-localcluster-start":
            t.join(120)
    import distributed

    def nanny_fails(*a, **k):
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr(distributed, "LocalCluster", nanny_fails)
    code = main([*args, "--scheduler", "local:1", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "RuntimeError: Nanny failed to start" in err[0], err


def test_a_runner_exception_on_local_workers_is_a_row(tasks, tmp_path):
    """An exception raised by the chunk runner in a worker is recorded, not a crashed sweep."""
    res = run_sweep(tasks[:4], tmp_path / "s", jobs=2, chunk_size=2, progress=False,
                    runner=_raising_runner(tasks[1].task_id))
    df = res.table.set_index("task_id")
    assert df.loc[tasks[1].task_id, "status"] == "worker_died"
    assert "RuntimeError: injected" in df.loc[tasks[1].task_id, "message"]
    assert (df.drop(index=tasks[1].task_id)["status"] == "ok").all()


def _raising_runner(bad: str):
    def runner(chunk):
        from trajlen.pipeline import run_tasks

        if any(t.task_id == bad for t in chunk):
            raise RuntimeError("injected")
        return run_tasks(chunk)

    return runner


def test_stall_timeout_flag_is_checked(capsys):
    assert main(["--stall-timeout", "-1", "--dry-run"]) == 2
    assert "stall-timeout" in capsys.readouterr().err
    assert os.environ.get("JOBLIB_TEMP_FOLDER") is None  # nothing global was changed
