"""Scaling out: a sweep on a dask.distributed cluster (two worker processes) and on two local joblib
workers gives bit-identical rows to a run in one process (timings aside)."""

from __future__ import annotations

import pandas as pd
import pytest

from trajlen.driver import run_sweep
from trajlen.sweep import main
from trajlen.tasks import build_tasks

VALUES = {"model": ["node", "ctrnn", "ltc"], "width": [10]}


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.drop(columns="wall_s"), b.drop(columns="wall_s"))


@pytest.fixture(scope="module")
def tasks():
    return build_tasks(VALUES, 4, 0)


@pytest.fixture(scope="module")
def local(tasks, tmp_path_factory) -> pd.DataFrame:
    res = run_sweep(tasks, tmp_path_factory.mktemp("local"), jobs=1, chunk_size=2, progress=False)
    assert (res.table["status"] == "ok").all()
    return res.table


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
    except Exception as e:  # noqa: BLE001 — no sockets, no fork: skip rather than fail
        pytest.skip(f"cannot start a dask LocalCluster here: {e}")
    yield client
    client.close()
    cluster.close()


def test_dask_cluster_equals_local_run(tasks, local, client, tmp_path):
    res = run_sweep(tasks, tmp_path / "s", chunk_size=2, progress=False, scheduler=client)
    assert res.n_computed == len(tasks)
    _same(res.table, local)
    # the work really ran on the cluster's workers
    assert sum(client.run(lambda: 1).values()) == 2


def test_cli_scheduler_address(local, client, tmp_path, capsys):
    """``--scheduler tcp://…`` connects to a running scheduler (here the fixture's)."""
    addr = client.scheduler.address
    out = tmp_path / "s"
    code = main(["--model", "node", "ctrnn", "ltc", "--width", "10", "--samples", "4", "--perturb", "0",
                 "--chunk-size", "2", "--scheduler", addr, "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    from trajlen.results import read_results

    _same(read_results(out), local)


def test_two_local_workers_equal_one(tasks, local, tmp_path):
    res = run_sweep(tasks, tmp_path / "s", jobs=2, chunk_size=2, progress=False)
    _same(res.table, local)


def test_resumed_dask_run_equals_local(tasks, local, client, tmp_path):
    """Half the tasks computed in this process, the rest on the cluster: the same table."""
    run_sweep(tasks[::2], tmp_path / "s", jobs=1, chunk_size=2, progress=False)
    res = run_sweep(tasks, tmp_path / "s", chunk_size=2, progress=False, scheduler=client)
    assert res.n_computed == len(tasks) - len(tasks[::2])
    _same(res.table, local)


def test_unreachable_scheduler_is_a_clean_error(capsys, tmp_path):
    code = main(["--model", "node", "--width", "10", "--samples", "1", "--scheduler",
                 "tcp://127.0.0.1:9", "--connect-timeout", "1", "--out", str(tmp_path / "s"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--scheduler tcp://127.0.0.1:9" in err[0]


@pytest.mark.slow
def test_worker_death_on_the_cluster_is_recorded(tasks, local, tmp_path):
    """A task that kills its dask worker: KilledWorker for its chunk, the chunk rerun task by task,
    the culprit run alone and recorded as worker_died, every other row as in a local run. (The
    scheduler's own retries are set to 0 here so that the test needs only three worker restarts.)"""
    import dask
    import distributed
    from test_faults import _faulty_runner

    die = tasks[3].task_id
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
        try:
            res = run_sweep(tasks, tmp_path / "s", chunk_size=2, progress=False, scheduler=client,
                            runner=_faulty_runner("", die))
        finally:
            client.close()
            cluster.close()
    df = res.table.set_index("task_id")
    assert df.loc[die, "status"] == "worker_died"
    assert res.failures == {"worker_died": 1}
    ok = res.table["task_id"] != die
    _same(res.table[ok], local[local["task_id"] != die])
