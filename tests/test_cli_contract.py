"""The contract of every command line (issue "Every row means what it says"): random flag
combinations driven through ``python -m trajlen.sweep`` (for real, up to the point where networks
would be solved), ``python -m trajlen.reproduce`` and ``python -m trajlen`` give exit status 0 or
2, never a traceback, one line on stderr for 2, and leave no store, lock or partial file behind on
exit 2. The specific mistakes the issue lists are each refused with a line naming the flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trajlen.sweep as sweep_cli
from trajlen import reproduce as repro_cli
from trajlen.params import sample_params, save_params
from trajlen.spec import NetworkSpec

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

garbage = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=6)
small = st.sampled_from(["2", "4", "0", "-1", "nan", "1e400", "x", ""])
FLAG_VALUES = {
    "model": st.sampled_from(["node", "ltc", "mlp", "lstm"]),
    "activation": st.sampled_from(["tanh", "hardtanh", "hardtanh_matlab", "relu", "cube"]),
    "width": small, "depth": small, "samples": small, "seed": st.sampled_from(["0", "-1", str(2 ** 64)]),
    "semantics": st.sampled_from(["paper", "reference", "x"]),
    "hardtanh": st.sampled_from(["clip", "matlab"]),
    "method": st.sampled_from(["RK45", "Tsit5", "euler", "LSODA", "ros23w", "RK99"]),
    "backend": st.sampled_from(["auto", "scipy", "numba", "torch", "jax"]),
    "output": st.sampled_from(["steps", "refine", "grid"]),
    "grid-points": st.sampled_from(["3", "1", str(10 ** 9)]),
    "refine": small, "dt": st.sampled_from(["0.1", "0", "-1"]),
    "dtype": st.sampled_from(["float32", "float64"]), "device": st.sampled_from(["cpu", "cuda"]),
    "max-steps": st.sampled_from(["5", "0", str(10 ** 30)]),
    "max-seconds": st.sampled_from(["1", "-1"]),
    "lyapunov": st.sampled_from(["0", "2", "5", "-1", "1.5", "x"]),
    "ltc-decay": st.sampled_from(["abs", "signed"]),
    "jobs": st.sampled_from(["1", "2", "64", "0"]),
    "scheduler": st.sampled_from(["local:1", "localhost", "tcp://127.0.0.1:1"]),
    "max-memory": st.sampled_from(["1K", "8G", "x"]),
    "out": st.sampled_from(["", " "]),
    "params": st.sampled_from(["NPZ", "missing.npz"]),
    "retry-failed": st.just(None),
    "input-kind": st.sampled_from(["exact", "samples", "off"]),
    "input-gain": st.sampled_from(["0", "2", "-1"]), "input-omega": st.sampled_from(["3", "0"]),
    "transient": st.sampled_from(["0", "3", "-1", "1e400"]), "perturb": st.sampled_from(["0", "2", "-1"]),
}


@st.composite
def sweep_argvs(draw) -> list[str]:
    argv = ["--width", "4", "--samples", "1", "--max-steps", "20"]
    for flag in draw(st.lists(st.sampled_from(sorted(FLAG_VALUES)), max_size=4, unique=True)):
        v = draw(FLAG_VALUES[flag])
        argv += [f"--{flag}"] + ([] if v is None else [v])
    return argv


def _no_solving(monkeypatch):
    """Everything up to the solves runs (validation, memory check, store lock, writability probe,
    scheduler start), but no network is computed: the sweep is given none of its tasks."""
    real = sweep_cli.run_sweep

    def run(tasks, out, **kw):
        return real(tasks[:0], out, **kw)

    monkeypatch.setattr(sweep_cli, "run_sweep", run)


@SETTINGS
@given(argv=sweep_argvs())
def test_sweep_cli_is_exit_0_or_one_line_2_and_leaves_nothing(argv, tmp_path_factory, capsys,
                                                               monkeypatch):
    _no_solving(monkeypatch)
    tmp = tmp_path_factory.mktemp("sweep")
    npz = tmp / "net.npz"
    net = NetworkSpec(width=4)
    save_params(sample_params(net, 0, 0), npz)
    argv = [str(npz) if a == "NPZ" else (str(tmp / a) if a == "missing.npz" else a) for a in argv]
    out = tmp / "store"
    if "--out" not in argv:
        argv += ["--out", str(out)]
    capsys.readouterr()
    code = sweep_cli.main([*argv, "--quiet"])
    err = capsys.readouterr().err
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        lines = [ln for ln in err.splitlines() if not ln.startswith("warning: ")]
        assert len(lines) == 1 and lines[0].startswith("python -m trajlen.sweep: error: "), (argv, err)
        assert not out.exists(), (argv, sorted(p.name for p in out.rglob("*")))


@pytest.mark.parametrize("argv, needles", [
    (["--params", "NPZ", "--width", "8"], ["--params", "--width"]),
    (["--params", "NPZ", "--sigma-w2", "8", "--activation", "tanh"], ["--params", "--sigma-w2"]),
    (["--params", "NPZ"], ["--params", "--activation"]),
    (["--activation", "hardtanh_matlab", "--hardtanh", "clip"], ["--hardtanh"]),
    (["--activation", "tanh", "--hardtanh", "clip"], ["--hardtanh"]),
    (["--dtype", "float32", "--backend", "scipy"], ["float64"]),
    (["--out", ""], ["--out"]),
    (["--width", "200000"], ["width 200000", "max-memory"]),
    (["--grid-points", "100000000", "--output", "grid"], ["max-memory"]),
    (["--grid-points", "500"], ["--grid-points", "--output grid"]),
    (["--dt", "0.1"], ["--dt"]),
    (["--seed", str(2 ** 64)], ["--seed"]),
    (["--max-steps", str(10 ** 30)], ["--max-steps"]),
    (["--jobs", "2", "--scheduler", "local:1"], ["--jobs", "--scheduler"]),
    (["--ltc-decay", "abs", "--model", "node"], ["--ltc-decay"]),
    (["--lyapunov", "-1"], ["lyapunov", "-1"]),
    (["--lyapunov", "x"], ["--lyapunov", "'x'"]),
    (["--lyapunov", "5", "--width", "4"], ["lyapunov", "4 states", "5"]),
    (["--lyapunov", "1", "--model", "cfc"], ["--lyapunov", "--model cfc"]),
    (["--lyapunov", "1", "--model", "mlp"], ["--lyapunov", "--model mlp"]),
])
def test_each_mistake_of_the_issue_is_refused(argv, needles, tmp_path, capsys, monkeypatch):
    _no_solving(monkeypatch)
    npz = tmp_path / "net.npz"
    save_params(sample_params(NetworkSpec(width=4), 0, 0), npz)
    argv = [str(npz) if a == "NPZ" else a for a in argv]
    out = tmp_path / "store"
    code = sweep_cli.main([*argv, "--out", str(out), "--quiet"] if "--out" not in argv
                          else [*argv, "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, (argv, err)
    assert all(n in err[0] for n in needles), (argv, err)
    assert not out.exists()


def test_unreachable_scheduler_leaves_no_store(tmp_path, capsys):
    out = tmp_path / "store"
    code = sweep_cli.main(["--width", "4", "--samples", "1", "--scheduler", "tcp://127.0.0.1:9",
                           "--connect-timeout", "1", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--scheduler" in err[0]
    assert not out.exists()


REPRO_FLAGS = {
    "semantics": st.sampled_from(["paper", "reference", "x"]),
    "samples": st.sampled_from(["2", "0", "committed", "x"]),
    "quick": st.just(None), "draw-only": st.just(None), "partial": st.just(None),
    "jobs": st.sampled_from(["1", "0", "-2", "x"]), "threads": st.sampled_from(["1", "0"]),
    "backend": st.sampled_from(["auto", "scipy", "jax"]),
}


@st.composite
def repro_argvs(draw) -> list[str]:
    argv = [draw(st.sampled_from(["table2", "fig2a", "all", "fig9", ""]))]
    for flag in draw(st.lists(st.sampled_from(sorted(REPRO_FLAGS)), max_size=4, unique=True)):
        v = draw(REPRO_FLAGS[flag])
        argv += [f"--{flag}"] + ([] if v is None else [v])
    return argv


@SETTINGS
@given(argv=repro_argvs())
def test_reproduce_cli_is_exit_0_or_one_line_2(argv, tmp_path_factory, capsys, monkeypatch):
    monkeypatch.setattr(repro_cli, "reproduce", lambda *a, **k: [])   # validation only
    tmp = tmp_path_factory.mktemp("repro")
    capsys.readouterr()
    code = repro_cli.main([*argv, "--results", str(tmp / "r"), "--figures", str(tmp / "f"), "--quiet"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and code in (0, 2), (argv, code, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (argv, err)


def test_reproduce_partial_needs_draw_only(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(repro_cli, "reproduce", lambda *a, **k: [])
    code = repro_cli.main(["table2", "--partial", "--results", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--partial" in err and "--draw-only" in err


@pytest.mark.parametrize("args, code", [([], 0), (["--help"], 0), (["--width", "10"], 2)])
def test_python_m_trajlen_prints_help_and_runs_nothing(args, code, tmp_path):
    r = subprocess.run([sys.executable, "-m", "trajlen", *args], capture_output=True, text=True,
                       cwd=tmp_path, timeout=60)
    assert r.returncode == code and "python -m trajlen.sweep" in r.stdout
    assert "Traceback" not in r.stderr and list(Path(tmp_path).iterdir()) == []


def test_child_processes_drop_the_resource_trackers_warning_and_nothing_else():
    """A SIGKILLed loky worker leaves loky's resource tracker (its own process, started with this
    interpreter's ``-W`` flags) to warn of a "leaked" semaphore at shutdown, raw and multi-line,
    which broke the CLI's one-line stderr (test_random_worker_kills[jobs], once in CI). Inside
    ``one_line_warnings`` a child interpreter started the way loky starts it drops exactly that
    warning; outside, and for any other warning, nothing changes."""
    from subprocess import _args_from_interpreter_flags

    from trajlen import cli

    code = ("import warnings; warnings.warn('resource_tracker: There appear to be 1 leaked semlock "
            "objects to clean up at shutdown'); warnings.warn('another warning')")

    def child_stderr() -> str:
        return subprocess.run([sys.executable, *_args_from_interpreter_flags(), "-c", code],
                              capture_output=True, text=True, check=True).stderr

    before = child_stderr()
    with cli.one_line_warnings():
        inside = child_stderr()
    assert "leaked semlock" in before and "another warning" in before
    assert "leaked semlock" not in inside and "another warning" in inside
    assert cli.TRACKER_FILTER not in sys.warnoptions   # restored
