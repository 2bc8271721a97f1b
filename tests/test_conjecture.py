"""Conjectured bounds: the safe formula evaluator (trajlen.bounds.compile_formula) rejects anything but
arithmetic over named columns and whitelisted functions, and evaluates valid formulas exactly like the
registered bounds; ``module:function`` bounds are called with the columns their parameters name."""

import math

import numpy as np
import pandas as pd
import pytest

from trajlen import bounds as B
from trajlen.bounds import FormulaError, compile_formula, resolve_bound
from trajlen.spec import SpecError

NAMES = ["k", "sigma_w", "sigma_b", "sigma_w2", "sigma_b2", "depth", "L", "z_norm", "z_norm_code",
         "dt", "l_input", "n_samples"]


def _cols(n=3):
    rng = np.random.default_rng(1)
    return {"k": np.array([10.0, 50.0, 100.0][:n]), "sigma_w": np.sqrt([1.0, 2.0, 4.0][:n]),
            "sigma_b": np.ones(n), "sigma_w2": np.array([1.0, 2.0, 4.0][:n]), "sigma_b2": np.ones(n),
            "depth": np.array([1.0, 2.0, 3.0][:n]), "L": rng.uniform(0.1, 5, n),
            "z_norm": rng.uniform(1, 5, n), "z_norm_code": rng.uniform(10, 50, n),
            "dt": np.full(n, 2 * math.pi / 99), "l_input": np.full(n, 2 * math.pi),
            "n_samples": np.full(n, 100.0)}


@pytest.mark.parametrize("text, needle", [
    ("__import__('os').system('echo pwned')", "not allowed"),
    ("__import__", "dunder"),
    ("k.__class__", "attribute access"),
    ("np.sqrt(k)", "not allowed"),
    ("(lambda: 1)()", "lambda"),
    ("lambda x: x", "lambda"),
    ("[k for k in range(3)][0]", "not allowed"),
    ("sum(x for x in k)", "not allowed"),
    ("k[0]", "subscripts"),
    ("open('/etc/passwd')", "call of 'open' is not allowed"),
    ("eval('1')", "call of 'eval' is not allowed"),
    ("sqrt(k)(1)", "not allowed"),
    ("sqrt(x=k)", "keyword"),
    ("sqrt(*k)", "not allowed"),
    ("9 ** 9 ** 9", "power tower"),
    ("k ** 100000", "too large"),
    ("2 ** -5000", "too large"),
    ("'abc'", "only numeric literals"),
    ("True + k", "only numeric literals"),
    ("1j * k", "only numeric literals"),
    ("k if L else 1", "IfExp is not allowed"),
    ("k < L", "Compare is not allowed"),
    ("k // 2", "FloorDiv is not allowed"),
    ("k % 2", "Mod is not allowed"),
    ("~k", "Invert is not allowed"),
    ("k and L", "BoolOp is not allowed"),
    ("(k := 3)", "NamedExpr is not allowed"),
    ("+".join(["k"] * 600), "characters long"),
    ("+".join(["k"] * 400), "too complex"),
    ("sqrt", "is a function"),
    ("1" + "0" * 400 + " * k", "out of range"),
    ("k; import os", "malformed"),
    ("sqrt(k", "malformed"),
    ("", "malformed"),
])
def test_unsafe_or_malformed_formulas_are_rejected(text, needle):
    with pytest.raises(FormulaError, match=None) as e:
        compile_formula(text, NAMES)
    assert needle in str(e.value), str(e.value)


def test_unknown_name_lists_valid_names():
    with pytest.raises(FormulaError) as e:
        compile_formula("sigma_q * k", NAMES)
    msg = str(e.value)
    assert "unknown name 'sigma_q'" in msg and "valid names:" in msg and "z_norm_code" in msg
    assert "functions:" in msg and "sqrt" in msg


def test_paper_eq7_as_a_formula_equals_the_registered_bound():
    c = _cols()
    f = compile_formula("(sigma_w*sqrt(k)/sqrt(sigma_w**2+sigma_b**2+k*sqrt(sigma_w**2+sigma_b**2)))"
                        "**(depth*L) * l_input", NAMES)
    np.testing.assert_allclose(f(c), B.thm4_node(c["k"], c["sigma_w"], c["sigma_b"], c["depth"], c["L"],
                                                 c["l_input"]), rtol=1e-14)
    assert set(f.names) == {"sigma_w", "k", "sigma_b", "depth", "L", "l_input"}


@pytest.mark.parametrize("text, expected", [
    ("2 + 3 * 4", 14.0),
    ("-k + 1", lambda c: 1 - c["k"]),
    ("+k", lambda c: c["k"]),
    ("k ** 0.5 / 2", lambda c: np.sqrt(c["k"]) / 2),
    ("min(dt, L)", lambda c: np.minimum(c["dt"], c["L"])),
    ("max(dt, L, 3)", lambda c: np.maximum(np.maximum(c["dt"], c["L"]), 3)),
    ("abs(sigma_w - sigma_b) * exp(log(k))", lambda c: np.abs(c["sigma_w"] - c["sigma_b"]) * c["k"]),
    ("sigma_w + z_norm / min(dt, L)", lambda c: c["sigma_w"] + c["z_norm"] / np.minimum(c["dt"], c["L"])),
    ("1e3 * 2", 2000.0),
])
def test_valid_formulas_evaluate_elementwise(text, expected):
    c = _cols()
    got = compile_formula(text, NAMES)(c)
    want = expected(c) if callable(expected) else expected
    np.testing.assert_allclose(np.broadcast_to(got, (3,)), np.broadcast_to(want, (3,)), rtol=1e-14)


def test_negative_base_fractional_power_is_nan_not_complex():
    got = compile_formula("(sigma_b - sigma_w) ** 0.5", NAMES)(_cols())
    assert got.dtype == np.float64 and np.isnan(got[1]) and got[0] == 0.0


def test_resolve_registry_module_function_and_formula():
    assert resolve_bound("thm5_ltc", NAMES) is B.BOUNDS["thm5_ltc"]
    b = resolve_bound("trajlen.bounds:raghu_hardtanh", NAMES + ["d"])
    c = _cols()
    np.testing.assert_allclose(b(c), B.raghu_hardtanh(c["k"], c["sigma_w"], c["sigma_b"], c["depth"],
                                                      c["l_input"]))
    with pytest.raises(SpecError, match="not columns"):
        resolve_bound("trajlen.bounds:beta", ["k"])
    with pytest.raises(SpecError, match="cannot import"):
        resolve_bound("no_such_module_xyz:f", NAMES)
    with pytest.raises(SpecError, match="unknown bound 'thm9'"):
        resolve_bound("thm9", NAMES)
    assert resolve_bound("l_input", NAMES).name == "l_input"  # a bare column is a formula


def test_conjecture_report_through_check_bound():
    """A conjecture is checked exactly like a theorem: ratios, violations and fits."""
    rows = []
    for k in (10, 20, 40):
        for s in range(3):
            rows.append(dict(model="node", activation="hardtanh", width=k, depth=1, sigma_w2=2.0,
                             sigma_b2=1.0, weight_init="var_over_k", recurrence="shared", n_samples=100,
                             L=0.5, z_norm=1.0, z_norm_code=1.0, l_input=2 * math.pi,
                             length=float(k) * (1 + 0.01 * s), status="ok", sample=s))
    df = pd.DataFrame(rows)
    rep = B.check_bound(df, "0.5 * k")
    assert rep.per_config["violations"].sum() == 0
    np.testing.assert_allclose(rep.per_config["ratio_min"], 2.0)
    fk = rep.fits[rep.fits.axis == "k"].iloc[0]
    assert fk.slope == pytest.approx(1.0, abs=0.01) and fk.bound_slope == pytest.approx(1.0)
    rep = B.check_bound(df, "2 * k")
    assert rep.per_config["violations"].sum() == 9
