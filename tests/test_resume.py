"""A sweep killed at any moment loses nothing: rerunning the same command computes only what is
missing, and the final table equals an uninterrupted run's (timings aside) — no lost rows, no
duplicates, no corrupt file. Corrupt shards are recomputed with a warning; other schemas refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from trajlen.results import ResultStore, read_results
from trajlen.sweep import main

ROOT = Path(__file__).resolve().parents[1]
#: The scipy backend on purpose: a signal must land mid-sweep, and the numba kernel (what "auto" runs)
#: finishes these 40 small networks in well under a second.
ARGS = ["--model", "node", "ctrnn", "--width", "10", "--samples", "20", "--chunk-size", "2",
        "--jobs", "1", "--backend", "scipy"]
N_TASKS = 40
SMALL = ["--model", "node", "--width", "10", "--samples", "2", "--jobs", "1"]


def _shards(out: Path) -> list[Path]:
    """Completed shards (a writer's temporary ``.tmp-*`` files are not shards)."""
    d = out / "shards"
    return sorted(p for p in d.glob("*.parquet") if not p.name.startswith(".")) if d.is_dir() else []


def _table(out: Path) -> pd.DataFrame:
    return read_results(out).drop(columns="wall_s")


def _assert_store_sound(out: Path) -> None:
    """Every shard readable, no task in two shards, nothing left half-written."""
    shards = _shards(out)
    ids = [i for s in shards for i in pq.read_table(s, columns=["task_id"]).column(0).to_pylist()]
    assert len(ids) == len(set(ids)) == N_TASKS
    assert not list(out.glob("**/.tmp-*"))
    assert not list(out.glob("**/*.corrupt"))
    assert len(pd.read_parquet(out / "results.parquet")) == N_TASKS


@pytest.fixture(scope="module")
def reference_store(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "store"
    assert main([*ARGS, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def reference(reference_store) -> pd.DataFrame:
    return _table(reference_store)


def _restore_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored across
    # exec: Python would then never raise KeyboardInterrupt. Give the sweep what a terminal gives it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trajlen.sweep", *ARGS, "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_restore_sigint)


def _wait_for_shards(proc: subprocess.Popen, out: Path, n: int = 2, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        have = len(_shards(out))
        if have >= n:
            return have
        if proc.poll() is not None:
            pytest.fail(f"sweep ended before it could be interrupted: {proc.communicate()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("no shards appeared")


def _resume(out: Path, capsys) -> int:
    """Rerun the same command (in-process: the same code path without a second interpreter start);
    return how many networks it computed."""
    capsys.readouterr()
    assert main([*ARGS, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    m = re.search(r"(\d+) networks \((\d+) computed, (\d+) already there", text)
    assert m and int(m[1]) == N_TASKS
    assert int(m[2]) + int(m[3]) == N_TASKS
    return int(m[2])


def test_sigkill_then_rerun_equals_uninterrupted(tmp_path, reference, capsys):
    out = tmp_path / "store"
    proc = _start(out)
    _wait_for_shards(proc, out)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    kept = len(_shards(out))
    assert 0 < kept < N_TASKS // 2  # it was killed part-way
    computed = _resume(out, capsys)
    assert computed == N_TASKS - 2 * kept  # only what was missing
    pd.testing.assert_frame_equal(_table(out), reference)
    _assert_store_sound(out)


def test_sigint_exits_cleanly_and_rerun_equals_uninterrupted(tmp_path, reference, capsys):
    out = tmp_path / "store"
    proc = _start(out)
    _wait_for_shards(proc, out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err and "rerun the same command" in err
    assert len(_shards(out)) > 0  # completed shards kept
    _resume(out, capsys)
    pd.testing.assert_frame_equal(_table(out), reference)
    _assert_store_sound(out)


def test_corrupt_and_partial_shards_are_recomputed_with_a_warning(tmp_path, reference_store,
                                                                   reference, capsys):
    out = tmp_path / "store"
    shutil.copytree(reference_store, out)
    shards = _shards(out)
    # a truncated file (a crash mid-write without atomic rename) ...
    data = shards[0].read_bytes()
    shards[0].write_bytes(data[: len(data) // 2])
    # ... and a readable shard that lost a row (a partial or edited copy)
    df = pd.read_parquet(shards[1])
    df.iloc[:1].to_parquet(shards[1], index=False)
    capsys.readouterr()
    assert main([*ARGS, "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert cap.err.count("warning: result shard") == 2
    assert "will be recomputed" in cap.err
    assert f"(4 computed, {N_TASKS - 4} already there" in cap.out
    pd.testing.assert_frame_equal(_table(out), reference)
    assert len(list((out / "shards").glob("*.corrupt"))) == 2


def test_store_of_another_schema_is_refused(tmp_path, capsys):
    out = tmp_path / "store"
    assert main([*SMALL, "--out", str(out), "--quiet"]) == 0
    meta = json.loads((out / "store.json").read_text())
    (out / "store.json").write_text(json.dumps({**meta, "schema_version": 0}))
    capsys.readouterr()
    assert main([*SMALL, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "schema version 0" in err[0] and "new --out" in err[0]


def test_shard_of_another_schema_is_refused(tmp_path, capsys):
    out = tmp_path / "store"
    assert main([*SMALL, "--out", str(out), "--quiet"]) == 0
    shard = next((out / "shards").glob("*.parquet"))
    df = pd.read_parquet(shard)
    df["schema_version"] = 99
    df.to_parquet(shard, index=False)
    capsys.readouterr()
    assert main([*SMALL, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "schema version [99]" in err[0]


def test_one_sweep_at_a_time_per_store(tmp_path):
    store = ResultStore(tmp_path / "s", 1)
    with store.lock():
        other = ResultStore(tmp_path / "s", 1)
        with pytest.raises(Exception, match="another sweep is writing"):
            with other.lock():
                pass


def test_stale_temporary_files_are_cleared(tmp_path, capsys):
    out = tmp_path / "store"
    assert main([*SMALL, "--out", str(out), "--quiet"]) == 0
    stale = out / "shards" / ".tmp-left-by-sigkill.parquet"
    stale.write_bytes(b"PAR1 half a file")
    assert main([*SMALL, "--out", str(out), "--quiet"]) == 0
    assert not stale.exists()
    shutil.rmtree(out)
    assert not os.path.exists(out)
