"""Bad input never gets past the front door: any flag values (garbage strings, negative numbers,
NaN/inf, empty lists) and any study-file grid give either a valid sweep or a clean error — a
:class:`SpecError` from the API, exit status 2 with exactly one stderr line from the CLI."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trajlen import spec as S
from trajlen.spec import SpecError
from trajlen.sweep import SINGLE_FLAGS, SWEEP_FLAGS, build_tasks, main

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
    (["--params", str(TMP / "missing.npz")], "missing.npz"),
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
