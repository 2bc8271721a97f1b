"""Bad input never gets past the front door: any flag values (garbage strings, negative numbers,
NaN/inf, empty lists) and any study-file grid give either a valid sweep or a clean error — a
:class:`SpecError` from the API, exit status 2 with exactly one stderr line from the CLI."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from trajlen import spec as S
from trajlen.spec import SpecError
from trajlen.sweep import SINGLE_FLAGS, SWEEP_FLAGS, main
from trajlen.tasks import build_tasks

TMP = Path(tempfile.mkdtemp(prefix="trajlen-hyp-"))
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

garbage = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=8)
numbers = st.one_of(st.integers(-5, 200).map(str),
                    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
                    st.sampled_from(["nan", "inf", "-inf", "1e400", "-0", "0", "1e-320", "0x10"]))


def _values(flag: str) -> st.SearchStrategy[str]:
    """Plausible and implausible values for one flag."""
    spec = SWEEP_FLAGS.get(flag) or SINGLE_FLAGS.get(flag)
    options = [numbers, garbage]
    if spec is not None and spec[2] is not None:
        options.insert(0, st.sampled_from(spec[2]))
    return st.one_of(*options)


RUN_FLAGS = ["samples", "seed", "jobs", "chunk-size", "max-retries", "connect-timeout",
             "scheduler"]
ALL_FLAGS = list(SWEEP_FLAGS) + list(SINGLE_FLAGS) + RUN_FLAGS


@st.composite
def argvs(draw) -> list[str]:
    argv: list[str] = []
    for flag in draw(st.lists(st.sampled_from(ALL_FLAGS), max_size=4, unique=True)):
        many = flag in SWEEP_FLAGS
        vals = draw(st.lists(_values(flag), min_size=0, max_size=3 if many else 1))
        argv += [f"--{flag}", *vals]
    return argv


def _run(argv: list[str], capsys) -> tuple[int, list[str], str]:
    capsys.readouterr()
    code = main([*argv, "--dry-run", "--out", str(TMP / "store")])
    cap = capsys.readouterr()
    return code, cap.err.splitlines(), cap.out


def _assert_clean(code: int, err: list[str], out: str, argv) -> None:
    if code == 0:
        assert "would run" in out, (argv, out)
    else:
        assert code == 2, (argv, code, err)
        assert len(err) == 1, (argv, err)
        assert err[0].startswith("python -m trajlen.sweep: error: "), (argv, err)


@SETTINGS
@given(argv=argvs())
def test_cli_flags_give_a_sweep_or_one_clean_line(argv, capsys):
    code, err, out = _run(argv, capsys)
    _assert_clean(code, err, out, argv)


@pytest.mark.parametrize("argv, needle", [
    (["--width", "-3"], "width"),
    (["--width"], "--width"),
    (["--sigma-w2", "nan"], "--sigma-w2"),
    (["--rtol", "inf"], "--rtol"),
    (["--rtol", "0"], "rtol"),
    (["--samples", "0"], "samples"),
    (["--seed", "-1"], "seed"),
    (["--jobs", "0"], "jobs"),
    (["--chunk-size", "0"], "chunk-size"),
    (["--max-retries", "-1"], "max-retries"),
    (["--max-seconds", "-2"], "max_seconds"),
    (["--max-steps", "0"], "max_steps"),
    (["--model", "lstm"], "--model"),
    (["--scheduler", "localhost"], "--scheduler"),
    (["--scheduler", "local:0"], "--scheduler"),
    (["--connect-timeout", "0"], "connect-timeout"),
    (["--params", str(TMP / "missing.npz"), "--activation", "tanh"], "missing.npz"),
    (["--study", str(TMP / "missing.toml")], "missing.toml"),
    (["--widht", "10"], "--widht"),
    (["--backend", "scipy", "--method", "euler"], "method"),
])
def test_each_bad_flag_is_named(argv, needle, capsys):
    code, err, out = _run(argv, capsys)
    assert code == 2 and len(err) == 1 and needle in err[0], (argv, err)


def test_out_that_is_a_file_is_refused(capsys):
    f = TMP / "a-file"
    f.write_text("x")
    capsys.readouterr()
    assert main(["--out", str(f), "--dry-run"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--out" in err[0]


# ---- study files -------------------------------------------------------------------------------

grid_values = st.one_of(st.integers(-3, 300), st.floats(allow_nan=True, allow_infinity=True),
                        garbage, st.booleans(), st.none(), st.lists(st.integers(-1, 50), max_size=3),
                        st.sampled_from(S.MODELS + S.ACTIVATION_NAMES + S.METHODS))
grid_keys = st.one_of(st.sampled_from([name for name, *_ in SWEEP_FLAGS.values()]
                                      + [name for name, *_ in SINGLE_FLAGS.values()]), garbage)


@st.composite
def study_files(draw) -> dict:
    doc: dict = {"grid": draw(st.dictionaries(grid_keys, grid_values, max_size=4))}
    for key in draw(st.lists(st.sampled_from(["samples", "seed", "bogus"]), max_size=2, unique=True)):
        doc[key] = draw(st.one_of(st.integers(-2, 5), garbage, st.floats()))
    return doc


@SETTINGS
@given(doc=study_files())
def test_study_file_gives_a_sweep_or_one_clean_line(doc, capsys):
    path = TMP / "study.json"
    # JSON has no NaN/inf literals; Python writes them anyway, so the parser must cope.
    path.write_text(json.dumps(doc))
    code, err, out = _run(["--study", str(path)], capsys)
    _assert_clean(code, err, out, doc)
    if code == 2 and "bogus" in doc:
        assert "bogus" in err[0] or "study file" in err[0]


def test_study_file_values_and_override(capsys):
    path = TMP / "grid.toml"
    path.write_text('samples = 3\nseed = 7\n[grid]\nmodel = ["node", "ctrnn"]\nwidth = [10, 20]\n')
    code, err, out = _run(["--study", str(path)], capsys)
    assert code == 0 and out.startswith("12 networks in 4 configuration(s)"), (out, err)
    code, err, out = _run(["--study", str(path), "--width", "5"], capsys)  # the flag wins
    assert code == 0 and out.startswith("6 networks in 2 configuration(s)"), (out, err)
    path.write_text('[grid]\nwidht = 10\n')
    code, err, out = _run(["--study", str(path)], capsys)
    assert code == 2 and "grid.widht is not a spec field" in err[0]


# ---- the API -----------------------------------------------------------------------------------

api_values = st.one_of(st.integers(-3, 300), st.floats(allow_nan=True, allow_infinity=True), garbage,
                       st.none(), st.booleans(), st.sampled_from(S.MODELS + S.SEMANTICS_NAMES))


@SETTINGS
@given(values=st.dictionaries(grid_keys, st.lists(api_values, max_size=3), max_size=4),
       samples=st.one_of(st.integers(-2, 3), st.floats(), garbage),
       seed=st.one_of(st.integers(-2, 3), st.none(), garbage))
def test_build_tasks_gives_valid_specs_or_spec_error(values, samples, seed):
    try:
        tasks = build_tasks(values, samples, seed)
    except SpecError as e:
        assert "\n" not in str(e)
        return
    assert len(tasks) >= 1
    for t in tasks:
        assert t.net.width >= 2 and math.isfinite(t.net.sigma_w2) and t.net.sigma_w2 > 0
        assert math.isfinite(t.solver.rtol) and t.solver.rtol > 0
        assert len(t.task_id) == 16


# ---- python -m trajlen.bounds ------------------------------------------------------------------

BOUNDS_OUT = TMP / "bounds-out"   # every --csv/--plot path of the examples below lies under here
BOUNDS_SRC = TMP / "bounds-src"   # a user's conjecture file, for --bound-function path/to/file.py:fn


@pytest.fixture(scope="module")
def bounds_store() -> Path:
    """A tiny store (scipy, width 4 and 6, N-ODE and static network, 2 samples), built once."""
    from trajlen.driver import run_sweep

    out = TMP / "bounds-store"
    tasks = build_tasks({"model": ["node", "mlp"], "activation": ["hardtanh"], "width": [4, 6],
                         "semantics": ["paper"], "backend": ["scipy"]}, samples=2, seed=0)
    run_sweep(tasks, out, jobs=1, progress=False)
    BOUNDS_OUT.mkdir()
    (BOUNDS_OUT / "a-file").write_text("x")
    BOUNDS_SRC.mkdir()
    (BOUNDS_SRC / "conj.py").write_text(
        "def good(k, depth):\n    return k ** 0.5 * depth\n"
        "def boom(k):\n    raise ZeroDivisionError('no\\nway')\n"
        "def word(k):\n    return 'abc'\n")
    (BOUNDS_SRC / "bad.parquet").write_text("garbage")
    return out


_bound_strings = st.one_of(st.sampled_from(
    ["auto", "thm4_node", "raghu_hardtanh", "frobnicate", "k", "sqrt(k) * depth", "k - 5",
     "sqrt(k, k)", "min(k)", "max(k, 1, L)", "os:abort", "os:getcwd", "evilconj:f",
     "__import__('os')", "k.real", "1/0", "log(0 * k)", "", "k +", "-exp(k * 1e5)", "k ** 1e9",
     "sqrt(k, out=k)"]), garbage)
_bound_functions = st.one_of(st.sampled_from(
    ["trajlen.bounds:raghu_hardtanh", "trajlen.bounds:fit_growth", "trajlen.bounds:BOUNDS",
     "no_such_module_xyz:f", "os:getcwd", "math:sqrt", "garbage", ":f", "mod:", "/nonexistent/x.py:f",
     "{src}/conj.py:good", "{src}/conj.py:boom", "{src}/conj.py:word", "{src}/conj.py:missing",
     "{out}/a-file:f", "{src}/bad.parquet:f"]), garbage)
_out_dirs = st.sampled_from(["{out}/new", "{out}/new/deeper", "{out}/a-file", "{out}/a-file/sub",
                             "/proc/trajlen-no-such/x", "", " ", "{out}/x\x00y", "{out}"])
_results = st.sampled_from(["{store}", "{store}/results.csv", "{store}/results.parquet",
                            "{out}/missing.parquet", "{out}/a-file", "{out}", "{src}/bad.parquet",
                            "{out}/x\x00y.csv"])
_BOUNDS_FLAGS = {"--bound": _bound_strings, "--bound-function": _bound_functions,
                 "--variant": st.one_of(st.sampled_from(["paper", "code"]), garbage),
                 "--sigma": st.one_of(st.sampled_from(["theorem", "label"]), garbage),
                 "--zero-recurrent": st.none(), "--plot": _out_dirs, "--csv": _out_dirs,
                 "--plot-format": st.one_of(st.sampled_from(["png", "pdf"]), garbage),
                 "--frobnicate": garbage}


_GOOD = {"--bound": st.sampled_from(["auto", "thm4_node", "k", "sqrt(k) * depth", "k - 5"]),
         "--bound-function": st.sampled_from(["trajlen.bounds:raghu_hardtanh", "{src}/conj.py:good"]),
         "--plot": st.sampled_from(["{out}/new", "{out}/new/deeper"]),
         "--csv": st.sampled_from(["{out}/new", "{out}/t"])}


@st.composite
def bounds_argvs(draw) -> list[str]:
    """Half the time a plausible command (a store, good values) with one or two things wrong at most;
    otherwise anything."""
    plausible = draw(st.booleans())
    argv = ["{store}"] if plausible else draw(st.lists(_results, min_size=0, max_size=2))
    for flag in draw(st.lists(st.sampled_from(list(_BOUNDS_FLAGS)), max_size=4, unique=True)):
        good = plausible and flag in _GOOD and draw(st.integers(0, 3)) > 0
        value = draw(_GOOD[flag] if good else _BOUNDS_FLAGS[flag])
        argv += [flag] if value is None else [flag, value]
    return argv


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@settings(SETTINGS, max_examples=100)
@given(argv=bounds_argvs())
def test_bounds_cli_gives_a_report_or_one_clean_line(argv, bounds_store, capsys):
    """Any flags: exit 0, or exit 2 with one line and no file or directory left behind; never a
    traceback, and never code run from a --bound string."""
    from trajlen.bounds import main as bounds_main

    argv = [a.replace("{store}", str(bounds_store)).replace("{out}", str(BOUNDS_OUT))
            .replace("{src}", str(BOUNDS_SRC)) for a in argv]
    before = _tree(BOUNDS_OUT)
    capsys.readouterr()
    try:
        code = bounds_main(argv)
    except SystemExit as e:  # argparse
        code = e.code
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err, (argv, cap.err)
    assert code in (0, 2), (argv, code, cap.err)
    event(f"exit {code}" + (" with files" if "tables: " in cap.out or "figures: " in cap.out else ""))
    if code == 2:
        err = cap.err.splitlines()
        assert len(err) == 1 and err[0].startswith("python -m trajlen.bounds: error: "), (argv, err)
        assert _tree(BOUNDS_OUT) == before, (argv, _tree(BOUNDS_OUT) - before)
    else:
        assert "per configuration" in cap.out, (argv, cap.out)
        for line in cap.out.splitlines():  # every file it says it wrote exists
            if line.startswith(("tables: ", "figures: ")) and "none (" not in line:
                assert all(Path(f).is_file() for f in line.split(": ", 1)[1].split(", ")), line
        for new in sorted(_tree(BOUNDS_OUT) - before, key=len, reverse=True):
            p = BOUNDS_OUT / new
            p.unlink() if p.is_file() else p.rmdir()
