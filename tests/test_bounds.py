"""Bounds (trajlen.bounds): each bound against hand-computed values, the σ convention, the report's
ratios/violations/fits on synthetic tables, and the CLI end to end on a tiny sweep.

Hand-computed values use k = 100, σ_w² = 2, σ_b² = 1 (σ_w = √2, σ_b = 1), so
``β = √2·10 / sqrt(3 + 100·√3) = 1.0653830535044473``.
"""

import math
import sys

import numpy as np
import pandas as pd
import pytest

from trajlen import bounds as B
from trajlen.driver import run_sweep
from trajlen.results import read_results
from trajlen.spec import SpecError
from trajlen.tasks import build_tasks

K, SW, SB = 100.0, math.sqrt(2.0), 1.0
LI = 2 * math.pi


def test_beta_hand_value():
    assert B.beta(K, SW, SB) == pytest.approx(1.0653830535044473, rel=1e-14)
    # large-k limit σ_w / (σ_w² + σ_b²)^{1/4}
    assert B.beta(1e12, SW, SB) == pytest.approx(SW / 3 ** 0.25, rel=1e-5)


@pytest.mark.parametrize("name, kwargs, expected", [
    ("thm4_node", dict(k=K, sigma_w=SW, sigma_b=SB, depth=2, L=0.5, l_input=LI), 6.693999148297266),
    ("thm4_ctrnn", dict(k=K, sigma_w=SW, sigma_b=SB, depth=2, L=0.5, l_input=LI), 1.9606269572792958),
    ("thm5_ltc", dict(k=K, sigma_w=SW, sigma_b=SB, depth=2, L=0.5, z_norm=3.0, dt=2 * math.pi / 99,
                      l_input=LI), 325.8855112728568),
    ("code_node", dict(k=K, sigma_w2=2.0, sigma_b2=1.0, depth=2, L=0.5), 6.692842880420288),
    ("code_ctrnn", dict(k=K, sigma_w2=2.0, sigma_b2=1.0, depth=2, L=0.5), 6.692842880420288),
    ("code_ltc", dict(k=K, sigma_w2=2.0, sigma_b2=1.0, depth=2, L=9.19, z_norm_code=40.0,
                      n_samples=100), 8.556529661481198),
    ("raghu_hardtanh", dict(k=K, sigma_w=SW, sigma_b=SB, depth=3, l_input=LI), 7.597963826631149),
    ("raghu_relu", dict(k=K, sigma_w=SW, depth=3, l_input=LI), 17.50825249590892),
])
def test_each_bound_against_hand_value(name, kwargs, expected):
    b = B.BOUNDS[name]
    assert b.func(**kwargs) == pytest.approx(expected, rel=1e-12)
    assert b(kwargs) == pytest.approx(expected, rel=1e-12)  # through the column mapping
    assert "Eq." in b.func.__doc__ or "Theorem 1" in b.func.__doc__


def test_code_node_is_eq7_with_labels_as_variances_and_constant_input_length():
    # code's sqrt(k*sigma) with sigma = σ_w² is σ_w √k: same base as Eq. 7, l(I) → 6.2821
    got = B.code_node(K, 2.0, 1.0, 3, 0.7)
    want = B.thm4_node(K, SW, SB, 3, 0.7, 6.2821)
    assert got == pytest.approx(want, rel=1e-13)


def test_undefined_bases_are_nan_not_complex():
    assert np.isnan(B.thm4_ctrnn(K, 1.0, 2.0, 1, 0.5, LI))  # σ_w < σ_b
    assert np.isnan(B.code_ltc(K, 1.0, 2.0, 1, 2.0, 10.0, 100))  # sigma_w2 < sigma_b2
    assert B.thm4_ctrnn(K, 1.0, 1.0, 1, 0.5, LI) == 0.0


def _rows(**over):
    base = dict(model="node", activation="hardtanh", width=100, depth=2, sigma_w2=2.0, sigma_b2=1.0,
                weight_init="var_over_k", recurrence="shared", n_samples=100, L=0.5, z_norm=3.0,
                z_norm_code=40.0, l_input=LI, length=10.0, status="ok", dt=0.01)
    base.update(over)
    return pd.DataFrame([base])


def test_sigma_convention_var_over_k_and_std_label():
    c = B.theorem_columns(_rows())
    assert c["sigma_w"][0] == pytest.approx(SW) and c["sigma_b"][0] == pytest.approx(1.0)
    assert c["dt"][0] == pytest.approx(2 * math.pi / 99) and c["solver_dt"][0] == 0.01
    c = B.theorem_columns(_rows(weight_init="std_label", sigma_w2=2.0, sigma_b2=1.0, width=25))
    # std 2 with no 1/k equals N(0, σ_w²/k) with σ_w = 2·√25 = 10
    assert c["sigma_w"][0] == pytest.approx(10.0) and c["sigma_b"][0] == pytest.approx(1.0)
    c = B.theorem_columns(_rows(weight_init="std_label", width=25), sigma="label")
    assert c["sigma_w"][0] == pytest.approx(SW)


def test_auto_picks_the_bound_per_model_and_variant():
    df = pd.concat([_rows(model=m) for m in ("node", "ctrnn", "ltc", "mlp")], ignore_index=True)
    _, used = B.bound_values(df, "auto", "paper")
    assert used == ["thm4_node", "thm4_ctrnn", "thm5_ltc", "raghu_hardtanh"]
    _, used = B.bound_values(df, "auto", "code")
    assert used == ["code_node", "code_ctrnn", "code_ltc", "raghu_hardtanh"]
    v, used = B.bound_values(_rows(model="mlp", activation="relu"), "auto", "paper")
    assert used == ["raghu_relu"]


def test_ratio_min_violations_and_recurrent_note():
    df = pd.concat([_rows(length=x, sample=i) for i, x in enumerate([3.0, 6.0, 12.0])],
                   ignore_index=True)
    rep = B.check_bound(df, "thm4_node")
    b = 6.693999148297266
    r = rep.per_config.iloc[0]
    assert r["ratio_min"] == pytest.approx(3.0 / b) and r["violations"] == 2
    assert r["ratio_mean"] == pytest.approx(np.mean([3, 6, 12]) / b)
    assert any("recurrent weights: zero in 0/3" in h for h in rep.header)
    rep = B.check_bound(df.assign(recurrence="none"), "auto", "code")
    assert any("zero in 3/3" in h for h in rep.header)
    with pytest.raises(SpecError, match="--recurrence none"):
        B.check_bound(df, "auto", "code", zero_recurrent=True)


def test_growth_fit_recovers_known_exponents():
    """Synthetic data with known exponents: length = 2·k^0.5·e^{0.3 d}·noise (5% log-normal).

    Each fit must land within twice its 95% half-width (≈ 4 standard errors) of the truth, so the test
    fails by chance with probability < 1e-3 whatever the seed; the bound's own slope is exact."""
    rng = np.random.default_rng(0)
    rows = []
    for k in (10, 20, 40, 80):
        for d in (1, 2, 3):
            for s in range(6):
                noise = math.exp(0.05 * rng.standard_normal())
                rows.append(_rows(width=k, depth=d, sample=s,
                                  length=2 * k ** 0.5 * math.exp(0.3 * d) * noise))
    df = pd.concat(rows, ignore_index=True)
    rep = B.check_bound(df, "sqrt(k)*exp(0.3*depth)")
    fk = rep.fits[rep.fits.axis == "k"]
    assert len(fk) == 3
    assert np.all(np.abs(fk.slope - 0.5) < (fk.slope_hi - fk.slope_lo))
    np.testing.assert_allclose(fk.bound_slope, 0.5, atol=1e-12)
    fd = rep.fits[rep.fits.axis == "depth"]
    assert len(fd) == 4
    assert np.all(np.abs(fd.slope - 0.3) < (fd.slope_hi - fd.slope_lo))
    np.testing.assert_allclose(fd.bound_slope, 0.3, atol=1e-12)


# --------------------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    """A tiny sweep (paper semantics, hard-tanh, widths 8/16, depth 1–2, 2 samples) of N-ODE, CT-RNN
    and the static network."""
    out = tmp_path_factory.mktemp("bounds") / "store"
    tasks = build_tasks({"model": ["node", "ctrnn", "mlp"], "activation": ["hardtanh"],
                         "width": [8, 16], "depth": [1, 2], "sigma_w2": [2.0],
                         "semantics": ["paper"], "grid_points": [201]}, samples=2, seed=0)
    res = run_sweep(tasks, out, jobs=1, progress=False)
    assert set(res.table["status"]) == {"ok"}
    return out


def test_cli_end_to_end(tiny_store, tmp_path, capsys):
    plots = tmp_path / "plots"
    assert B.main([str(tiny_store), "--plot", str(plots), "--csv", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    assert "thm4_node [paper Eq. 7" in out and "raghu_hardtanh" in out
    assert "recurrent weights: zero in 8/24 rows" in out  # only the static networks
    assert "growth fits" in out
    assert (plots / "bounds_k.png").stat().st_size > 1000
    assert (plots / "bounds_depth.png").exists()
    per = pd.read_csv(tmp_path / "t" / "per_config.csv")
    assert len(per) == 12 and {"ratio_min", "violations", "bound_mean"} <= set(per.columns)
    fits = pd.read_csv(tmp_path / "t" / "fits.csv")
    assert set(fits["axis"]) == {"k", "depth"}
    assert f"tables: {tmp_path / 't' / 'per_config.csv'}, {tmp_path / 't' / 'fits.csv'}" in out
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["fits.csv", "per_config.csv"]
    # the same from the consolidated csv
    assert B.main([str(tiny_store / "results.csv"), "--variant", "code"]) == 0
    out = capsys.readouterr().out
    assert "code_node" in out and "only with recurrent weights set to zero" in out
    df = read_results(tiny_store)
    assert len(df) == 24


@pytest.mark.parametrize("argv, needle", [
    (["/nonexistent/x.parquet"], "does not exist"),
    (["{store}", "--bound", "frobnicate"], "unknown bound 'frobnicate'"),
    (["{store}", "--bound", "sqrt(k"], "malformed bound formula"),
    (["{store}", "--bound", "k*sigma_x"], "unknown name 'sigma_x'"),
    (["{store}", "--bound", "__import__('os').system('true')"], "not allowed"),
    (["{store}", "--variant", "both"], "invalid choice"),
    (["{store}", "--zero-recurrent", "--bound", "thm4_node"], "no rows with zero recurrent"),
    (["{store}", "--bound", "os:abort"], "use --bound-function"),  # used to kill the process
    (["{store}", "--bound", "trajlen.bounds:beta"], "never runs code"),
    (["{store}", "--bound", "k + sqrt(k, k)"], "sqrt takes 1 argument, got 2"),
    (["{store}", "--bound", "min(k)"], "min takes at least 2 arguments, got 1"),
    (["{store}", "--bound", "k", "--bound-function", "trajlen.bounds:beta"], "cannot be used together"),
    (["{store}", "--bound-function", "no_such_module_xyz:f"], "cannot import module"),
    (["{store}", "--bound-function", "trajlen.bounds:fit_growth"], "not columns"),
    (["{store}", "--bound-function", "garbage"], "pkg.mod:function"),
    (["{store}", "--csv", "/proc/trajlen-no-such/t"], "--csv '/proc/trajlen-no-such/t': cannot write"),
    (["{store}", "--plot", "{tmp}/a-file/sub"], "--plot"),
    (["{store}", "--plot", "{tmp}/a-file"], "is not a directory"),
    (["{store}", "--csv", ""], "--csv: the directory name is empty"),
    (["{store}", "--csv", "{tmp}/new/t", "--bound", "sqrt(k"], "malformed"),
    (["{store}", "--plot", "{tmp}/new/p", "--bound-function", "x:f"], "cannot import"),
])
def test_cli_bad_input_one_line_exit_2(tiny_store, tmp_path, capsys, argv, needle):
    """One line on stderr, nothing on stdout, exit 2 — and no file or directory left behind."""
    (tmp_path / "a-file").write_text("x")
    argv = [a.replace("{store}", str(tiny_store)).replace("{tmp}", str(tmp_path)) for a in argv]
    if "--zero-recurrent" in argv:  # keep only rows with recurrent weights
        df = read_results(tiny_store)
        df[df.model != "mlp"].to_parquet(tmp_path / "rec.parquet")
        argv[0] = str(tmp_path / "rec.parquet")
    with pytest.raises(SystemExit) as e:
        raise SystemExit(B.main(argv))
    assert e.value.code == 2
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert cap.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"] + (
        ["rec.parquet"] if "--zero-recurrent" in argv else [])


def test_cli_unreadable_file(tmp_path, capsys):
    bad = tmp_path / "bad.parquet"
    bad.write_text("garbage")
    assert B.main([str(bad)]) == 2
    assert "unreadable" in capsys.readouterr().err


# ------------------------------------------------------------------------------ undefined bounds
def _one_config(*Ls):
    """One configuration, five samples whose measured L (a bound input, not a config column) differ."""
    return pd.concat([_rows(L=x, sample=i, length=10.0) for i, x in enumerate(Ls)], ignore_index=True)


@pytest.mark.parametrize("formula, why", [
    ("L - 0.5", {"negative": 2, "zero": 1}),   # L = 0.1, 0.3 negative, 0.5 zero; 0.7, 0.9 defined
    ("L / (L - 0.5)", {"negative": 2, "inf": 1}),
    ("sqrt(0.5 - L) + L - L", {"nan": 2, "zero": 1}),  # 0.7, 0.9: sqrt of a negative
    ("exp(L * 1e5) / 1e300", {"inf": 5}),     # +inf is not a violation either
    ("0 * L", {"zero": 5}),
    ("-exp(L * 1e5)", {"negative": 5}),       # -inf
    ("L * 100", {}),                          # 10, 30, ..., 90 against length 10
])
def test_undefined_bound_rows_get_no_verdict(formula, why):
    """A NaN, ±inf, zero or negative bound is 'undefined': counted apart, never a violation (a
    negative or infinite bound used to count as violated) nor a 'held' (NaN used to), and left out of
    the ratio statistics and the header says so."""
    df = _one_config(0.1, 0.3, 0.5, 0.7, 0.9)
    rep = B.check_bound(df, formula)
    assert len(rep.per_config) == 1
    got = rep.rows["bound_undefined"].to_numpy()
    assert {r: int((got == r).sum()) for r in why} == why
    n_undef = sum(why.values())
    assert rep.per_config["undefined"].sum() == n_undef
    defined = rep.rows[rep.rows["bound_undefined"] == ""]
    assert rep.rows["ratio"][rep.rows["bound_undefined"] != ""].isna().all()
    assert rep.per_config["violations"].sum() == int((defined["ratio"] < 1).sum())
    if len(defined):
        assert rep.per_config["ratio_mean"].iloc[0] == pytest.approx(defined["ratio"].mean())
        assert rep.per_config["ratio_min"].min() == pytest.approx(defined["ratio"].min())
        assert rep.per_config["bound_mean"].iloc[0] == pytest.approx(defined["bound"].mean())
    else:
        assert rep.per_config[["ratio_min", "ratio_mean", "bound_mean"]].isna().all(axis=None)
    note = [h for h in rep.header if "undefined" in h]
    if n_undef:
        assert len(note) == 1 and f"undefined for {n_undef} of 5 rows" in note[0], rep.header
    else:
        assert not note and rep.per_config["violations"].iloc[0] == 4
    assert "undefined" in B.format_report(rep)


def test_undefined_rule_per_value():
    why = B.undefined_reason(np.array([1.0, 0.0, -0.0, -2.0, np.inf, -np.inf, np.nan, 1e-320]))
    assert list(why) == ["", "zero", "zero", "negative", "inf", "negative", "nan", ""]


def test_registered_bound_nan_is_undefined_not_held():
    """Eq. 8 with σ_w < σ_b has a negative base: NaN, formerly a silent 'held'."""
    rep = B.check_bound(_rows(model="ctrnn", sigma_w2=1.0, sigma_b2=4.0, length=0.001), "auto")
    assert rep.per_config["undefined"].iloc[0] == 1 and rep.per_config["violations"].iloc[0] == 0
    assert any("σ_w < σ_b" in h for h in rep.header)


def test_growth_fits_use_only_rows_with_a_defined_bound():
    df = pd.concat([_rows(width=k, sample=s, length=float(k)) for k in (10, 20, 40, 80)
                    for s in range(2)], ignore_index=True)
    rep = B.check_bound(df, "k - 15")  # k = 10 undefined
    fk = rep.fits[rep.fits.axis == "k"].iloc[0]
    assert fk["n"] == 6 and fk["x_values"] == "20 40 80"


def test_cli_says_only_which_files_it_wrote(tiny_store, tmp_path, capsys):
    """One configuration: no sweep axis, so no fits.csv and no figure — and the CLI does not claim
    them (it used to print that fits.csv was written)."""
    df = read_results(tiny_store)
    one = tmp_path / "one.parquet"
    df[(df.model == "node") & (df.width == 8) & (df.depth == 1)].to_parquet(one)
    assert B.main([str(one), "--csv", str(tmp_path / "t"), "--plot", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert f"tables: {tmp_path / 't' / 'per_config.csv'}\n" in out and "fits.csv" not in out
    assert "figures: none (no sweep axis varies)" in out
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["per_config.csv"]
    assert list((tmp_path / "p").iterdir()) == []


def test_cli_bound_function_runs_a_module_function_never_one_from_the_cwd(tiny_store, tmp_path,
                                                                          capsys, monkeypatch):
    assert B.main([str(tiny_store), "--bound-function", "trajlen.bounds:raghu_hardtanh"]) == 0
    assert "used: trajlen.bounds:raghu_hardtanh" in capsys.readouterr().out
    marker = tmp_path / "ran"
    (tmp_path / "evilconj.py").write_text(f"open({str(marker)!r}, 'w').close()\ndef f(k):\n"
                                          "    return k\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", str(tmp_path), *sys.path])  # as `python -m` would
    for argv in (["--bound", "evilconj:f"], ["--bound-function", "evilconj:f"]):
        assert B.main([str(tiny_store), *argv]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and not marker.exists(), err
    assert B.main([str(tiny_store), "--bound-function", "./evilconj.py:f"]) == 0  # explicit file
    assert marker.exists()


@pytest.mark.parametrize("table, needle", [
    (dict(model=["node"], length=[1.0]), "lacks the column(s) width, depth, sigma_w2, sigma_b2"),
    (dict(model=["node"], length=["long"], width=[4], depth=[1], sigma_w2=[2.0], sigma_b2=[1.0]),
     "'length' must be numeric"),
])
def test_cli_hand_made_table_without_the_columns(tmp_path, capsys, table, needle):
    path = tmp_path / "t.csv"
    pd.DataFrame(table).to_csv(path, index=False)
    assert B.main([str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
