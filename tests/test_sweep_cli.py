import time

import numpy as np
import pandas as pd
import pytest

from trajlen.params import export_mat, sample_params, save_params
from trajlen.results import read_results
from trajlen.spec import NetworkSpec
from trajlen.sweep import main

SMALL = ["--width", "8", "--samples", "3", "--model", "node", "ctrnn", "ltc", "--quiet"]


def _cols(df):
    return df.drop(columns=["wall_s"]).sort_values("task_id").reset_index(drop=True)


@pytest.mark.parametrize("argv, needle", [
    (["--width", "-3"], "width must be an integer in [2, 2**63 - 1], got -3"),
    (["--activation", "swish"], "invalid choice: 'swish'"),
    (["--sigma-w2", "0"], "sigma_w2 must be a finite number > 0"),
    (["--rtol", "0"], "rtol must be a finite number > 0"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["--params", "/nonexistent/file.mat", "--activation", "tanh"], "params file"),
    (["--samples", "0"], "samples must be an integer >= 1"),
    (["--width", "ten"], "invalid integer: 'ten'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, needle):
    with pytest.raises(SystemExit) as e:
        code = main(argv + ["--out", str(tmp_path / "o"), "--quiet"])
        raise SystemExit(code)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_unreadable_params_file(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_text("garbage")
    assert main(["--params", str(bad), "--activation", "tanh", "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    assert "not a readable" in capsys.readouterr().err


def test_sweep_rows_jobs1_equal_jobs2_and_resume(tmp_path):
    assert main(SMALL + ["--jobs", "1", "--out", str(tmp_path / "a")]) == 0
    assert main(SMALL + ["--jobs", "2", "--chunk-size", "2", "--out", str(tmp_path / "b")]) == 0
    a, b = read_results(tmp_path / "a"), read_results(tmp_path / "b")
    assert len(a) == 9 and set(a["status"]) == {"ok"}
    pd.testing.assert_frame_equal(_cols(a), _cols(b))
    # resume: a wider sweep into the same store only computes the new rows
    before = sorted(p.name for p in (tmp_path / "a" / "shards").iterdir())
    assert main(SMALL[:-1] + ["--samples", "4", "--jobs", "1", "--out", str(tmp_path / "a")]) == 0
    after = read_results(tmp_path / "a")
    assert len(after) == 12
    pd.testing.assert_frame_equal(_cols(after[after.task_id.isin(a.task_id)]), _cols(a))
    assert set(before) <= {p.name for p in (tmp_path / "a" / "shards").iterdir()}


def test_cli_stops_its_worker_processes_before_returning(tmp_path):
    """The CLI does not leave loky's workers for interpreter exit to join (serial wall time)."""
    psutil = pytest.importorskip("psutil")
    from joblib.externals.loky import reusable_executor

    assert main(SMALL + ["--jobs", "2", "--chunk-size", "2", "--out", str(tmp_path / "s")]) == 0
    ex = reusable_executor._executor
    assert ex is not None   # the sweep did run on local workers
    pids = list(ex._processes)
    assert len(pids) == 2
    time.sleep(1.0)
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert alive == []


def test_rows_record_everything_needed(tmp_path):
    assert main(SMALL + ["--depth", "2", "--jobs", "1", "--out", str(tmp_path / "r")]) == 0
    df = pd.read_parquet(tmp_path / "r" / "results.parquet")
    row = df.iloc[0]
    for col in ("model", "activation", "width", "depth", "sigma_w2", "sigma_b2", "semantics",
                "weight_init", "recurrence", "ltc_decay", "ltc_A", "hardtanh", "input_kind", "method",
                "controller", "rtol", "atol", "output", "refine", "seed", "sample", "status",
                "n_accepted", "n_rejected", "nfev", "L", "steps_per_interval", "length", "lengths",
                "var_pc1", "var_pc2", "wall_s", "numpy_version", "scipy_version", "torch_version",
                "trajlen_version", "spec_json", "l_input"):
        assert col in df.columns, col
    assert len(row["lengths"]) == 2 and row["length"] == row["lengths"][-1]
    csv = read_results(tmp_path / "r" / "results.csv")
    np.testing.assert_allclose(np.stack(csv["lengths"]), np.stack(df["lengths"]))


def test_failed_solves_are_rows_and_the_sweep_goes_on(tmp_path, capsys):
    argv = ["--model", "ltc", "node", "--activation", "relu", "--width", "20", "--samples", "2",
            "--max-steps", "30", "--jobs", "1", "--out", str(tmp_path / "f")]
    assert main(argv) == 0
    df = read_results(tmp_path / "f")
    assert set(df.loc[df.model == "ltc", "status"]) == {"step_budget"}
    assert set(df.loc[df.model == "node", "status"]) == {"ok"}
    assert "step_budget: 2" in capsys.readouterr().out


def test_params_file_runs_that_network(tmp_path):
    net = NetworkSpec(width=6)
    p = sample_params(net, 5, 1)
    export_mat(p, tmp_path / "n.mat", net)
    assert main(["--params", str(tmp_path / "n.mat"), "--model", "ltc", "--activation", "tanh",
                 "--quiet", "--jobs", "1", "--out", str(tmp_path / "o")]) == 0
    assert main(["--seed", "5", "--width", "6", "--samples", "2", "--model", "ltc", "--quiet",
                 "--jobs", "1", "--out", str(tmp_path / "o2")]) == 0
    a = read_results(tmp_path / "o")
    b = read_results(tmp_path / "o2")
    assert a["length"].iloc[0] == b.loc[b["sample"] == 1, "length"].iloc[0]
    # the row says where its network came from, and no σ or initialisation it was not drawn with
    import hashlib

    r = a.iloc[0]
    assert r["params_path"] == str(tmp_path / "n.mat")
    assert r["params_sha256"] == hashlib.sha256((tmp_path / "n.mat").read_bytes()).hexdigest()
    assert r[["sigma_w2", "sigma_b2", "weight_init"]].isna().all() and r["width"] == 6


def test_two_params_files_give_two_rows_with_their_paths_and_hashes(tmp_path):
    paths = []
    for i in range(2):
        net = NetworkSpec(width=5 + i)
        save_params(sample_params(net, 0, i), tmp_path / f"n{i}.npz")
        paths.append(str(tmp_path / f"n{i}.npz"))
    assert main(["--params", *paths, "--model", "node", "--activation", "relu", "--quiet",
                 "--jobs", "1", "--out", str(tmp_path / "o")]) == 0
    t = read_results(tmp_path / "o")
    assert sorted(t["params_path"]) == paths and t["params_sha256"].nunique() == 2
    assert sorted(t["width"]) == [5, 6]
