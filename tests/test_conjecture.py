"""Conjectured bounds: the safe formula evaluator (trajlen.bounds.compile_formula) rejects anything but
arithmetic over named columns and whitelisted functions of fixed arity, evaluates valid formulas exactly
like the registered bounds and never writes into the columns; ``--bound`` never imports anything, and
a Python function is the separate, explicit ``bound_function`` / ``--bound-function`` opt-in."""

import ast
import math
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trajlen import bounds as B
from trajlen.bounds import FormulaError, compile_formula, resolve_bound, resolve_bound_function
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


def test_resolve_registry_and_formula():
    assert resolve_bound("thm5_ltc", NAMES) is B.BOUNDS["thm5_ltc"]
    with pytest.raises(SpecError, match="unknown bound 'thm9'"):
        resolve_bound("thm9", NAMES)
    assert resolve_bound("l_input", NAMES).name == "l_input"  # a bare column is a formula


@pytest.mark.parametrize("spec", ["os:abort", "trajlen.bounds:raghu_hardtanh", "this:x",
                                  "evilconj:f", "./evilconj.py:f"])
def test_bound_never_imports_a_module(spec):
    """``module:function`` through ``--bound`` is refused with a pointer to --bound-function; the module
    is not imported (``this`` would print the Zen of Python at import)."""
    had_this = "this" in sys.modules
    with pytest.raises(FormulaError, match="--bound-function") as e:
        resolve_bound(spec, NAMES)
    assert "\n" not in str(e.value)
    assert ("this" in sys.modules) == had_this


@pytest.mark.parametrize("text, msg", [
    ("sqrt(k, k)", "bound formula 'sqrt(k, k)': sqrt takes 1 argument, got 2"),
    ("k + sqrt(k, k)", "sqrt takes 1 argument, got 2"),
    ("exp()", "exp takes 1 argument, got 0"),
    ("log(k, L, L)", "log takes 1 argument, got 3"),
    ("min(k)", "min takes at least 2 arguments, got 1"),
    ("max()", "max takes at least 2 arguments, got 0"),
    ("sqrt(k, out=k)", "keyword"),
    ("sqrt(k, where=L)", "keyword"),
])
def test_functions_have_a_fixed_arity(text, msg):
    with pytest.raises(FormulaError) as e:
        compile_formula(text, NAMES)
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_min_max_stay_nary_and_evaluation_never_writes_the_columns():
    c = _cols()
    before = {n: v.copy() for n, v in c.items()}
    np.testing.assert_allclose(compile_formula("max(k, L, 3, depth)", NAMES)(c),
                               np.maximum.reduce([c["k"], c["L"], np.full(3, 3.0), c["depth"]]))
    got = compile_formula("k + sqrt(k) - -k * abs(k) / exp(k / 1000)", NAMES)(c)
    assert got.dtype == np.float64 and got.shape == (3,)
    got[:] = -1  # the result is the caller's own array, not a view of a column
    for n, v in c.items():
        np.testing.assert_array_equal(v, before[n])


def test_evaluation_errors_are_one_line_formula_errors():
    f = compile_formula("k * L", NAMES)
    with pytest.raises(FormulaError, match="evaluation failed: KeyError"):
        f({"k": np.ones(3)})  # a column the formula names is missing
    with pytest.raises(FormulaError, match="evaluation failed: ValueError"):
        f({"k": np.array(["a", "b", "c"], dtype=object), "L": np.ones(3)})
    assert compile_formula("2 + 3", NAMES)(_cols()).shape == (3,)  # a constant fills every row


# --------------------------------------------------------------------------------- bound_function
def test_bound_function_module_and_columns():
    b = resolve_bound_function("trajlen.bounds:raghu_hardtanh", NAMES + ["d"])
    c = _cols()
    np.testing.assert_allclose(b(c), B.raghu_hardtanh(c["k"], c["sigma_w"], c["sigma_b"], c["depth"],
                                                      c["l_input"]))
    assert b.variant == "user" and "runs code" in b.equation
    with pytest.raises(SpecError, match="not columns"):
        resolve_bound_function("trajlen.bounds:beta", ["k"])
    with pytest.raises(SpecError, match="cannot import module 'no_such_module_xyz'"):
        resolve_bound_function("no_such_module_xyz:f", NAMES)
    with pytest.raises(SpecError, match="has no function 'nope'"):
        resolve_bound_function("trajlen.bounds:nope", NAMES)
    with pytest.raises(SpecError, match="positional-only"):
        resolve_bound_function("math:sqrt", NAMES)
    for bad in ("garbage", ":f", "mod:", "a b:c", "mod:f-g"):
        with pytest.raises(SpecError, match="bound function"):
            resolve_bound_function(bad, NAMES)


def test_bound_function_never_imports_from_the_cwd(tmp_path, monkeypatch):
    """A module of that name in the current directory is not found, its import-time code never runs
    (even with the cwd on sys.path, as ``python -m`` puts it), and sys.path is restored afterwards;
    the same file given explicitly as a path is the documented way to use it."""
    marker = tmp_path / "ran"
    (tmp_path / "evilconj_cwd.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n\ndef f(k):\n    return 2 * k\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "path", ["", *sys.path])
    saved = list(sys.path)
    with pytest.raises(SpecError, match="current directory is not searched"):
        resolve_bound_function("evilconj_cwd:f", NAMES)
    assert not marker.exists() and "evilconj_cwd" not in sys.modules and sys.path == saved
    b = resolve_bound_function("./evilconj_cwd.py:f", NAMES)
    assert marker.exists()
    np.testing.assert_allclose(b(_cols()), 2 * _cols()["k"])


def test_bound_function_failures_are_one_line(tmp_path):
    src = tmp_path / "conj.py"
    src.write_text("import numpy as np\n"
                   "def boom(k):\n    raise RuntimeError('bad\\nthing')\n"
                   "def shape(k):\n    return np.ones(len(k) + 1)\n"
                   "def word(k):\n    return 'abc'\n"
                   "def mutate(k):\n    k[:] = 0\n    return k + 1\n")
    for fn, needle in (("boom", "raised RuntimeError: bad thing"), ("shape", "one value per row"),
                       ("word", "one value per row")):
        with pytest.raises(SpecError, match=needle) as e:
            resolve_bound_function(f"{src}:{fn}", NAMES)(_cols())
        assert "\n" not in str(e.value)
    c = _cols()
    k = c["k"].copy()
    np.testing.assert_allclose(resolve_bound_function(f"{src}:mutate", NAMES)(c), 1.0)
    np.testing.assert_array_equal(c["k"], k)  # it wrote into a copy
    (tmp_path / "broken.py").write_text("def f(k:\n")
    with pytest.raises(SpecError, match="raised SyntaxError"):
        resolve_bound_function(f"{tmp_path / 'broken.py'}:f", NAMES)
    with pytest.raises(SpecError, match="does not exist"):
        resolve_bound_function(f"{tmp_path / 'missing.py'}:f", NAMES)


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
    with pytest.raises(FormulaError, match="sqrt takes 1 argument"):
        B.check_bound(df, "k + sqrt(k, k)")  # used to write into k and flip the verdict
    with pytest.raises(SpecError, match="not both"):
        B.check_bound(df, "k", bound_function="trajlen.bounds:raghu_hardtanh")
    rep = B.check_bound(df, bound_function="trajlen.bounds:raghu_hardtanh")
    assert rep.rows["bound_name"].iloc[0] == "trajlen.bounds:raghu_hardtanh"


# ------------------------------------------------------------------------------ property-based
_VALID_LEAVES = ["k", "L", "depth", "sigma_w", "z", "0", "1", "-1", "2.5", "0.0", "1e300", "1e-320"]
_LEAF_NAMES = ["k", "L", "__class__", "np", "os", "sqrt", "min", "inf", "nan", "True", "None"]
_LEAF_NUMBERS = ["1e400", "10**400", "1e308", "0x10", "1_000", "'s'", "b'x'", "1j", "...", "9" * 320]
_FUNCS = sorted(B.FORMULA_FUNCTIONS)
_CALLEES = _FUNCS + ["open", "eval", "np.sqrt", "k", "__import__", "getattr", "sum", "(lambda: 1)"]
_TAILS = ["", ", out=k", ", where=k", ", *k", ", **{}", ", k"]


def _extend(children):
    """Mostly valid arithmetic and whitelisted calls of random arity, mixed with everything a formula
    must not contain (other operators, other callees, out=/where=, attributes, subscripts, lambdas)."""
    ok_binop = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children)
    bad_binop = st.tuples(children, st.sampled_from(["//", "%", "@", "<", "==", "and", "|", "<<"]),
                          children)
    ok_call = st.tuples(st.sampled_from(_FUNCS), st.lists(children, max_size=3))
    bad_call = st.tuples(st.sampled_from(_CALLEES), st.lists(children, max_size=4),
                         st.sampled_from(_TAILS))
    valid = [ok_binop.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
             st.tuples(st.sampled_from(["-", "+"]), children).map(lambda t: f"{t[0]}({t[1]})"),
             ok_call.map(lambda t: f"{t[0]}({', '.join(t[1])})")]
    hostile = [bad_binop.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
               st.tuples(st.sampled_from(["~", "not "]), children).map(lambda t: f"{t[0]}({t[1]})"),
               bad_call.map(lambda t: f"{t[0]}({', '.join(t[1])}{t[2] if t[1] else ''})"),
               st.tuples(children, st.sampled_from([".real", ".__class__", "[0]", "[::-1]", "(1)"]))
               .map(lambda t: f"({t[0]}){t[1]}"),
               children.map(lambda c: f"(lambda k: {c})(k)"),
               children.map(lambda c: f"[{c} for _ in k][0]"),
               st.tuples(children, children).map(lambda t: f"({t[0]} if k else {t[1]})")]
    return st.one_of(*valid, *valid, *valid, *hostile)


def _arith_extend(children):
    """Arithmetic and whitelisted calls, mostly of the right arity (min/max: any number ≥ 2)."""
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["-", "+"]), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(_FUNCS), st.lists(children, min_size=1, max_size=1))
        .map(lambda t: f"{t[0]}({t[1][0]})"),
        st.tuples(st.sampled_from(["min", "max"]), st.lists(children, min_size=2, max_size=4))
        .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(st.sampled_from(_FUNCS), st.lists(children, max_size=3))
        .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
    )


_valid_leaf = st.sampled_from(_VALID_LEAVES)
_arith = st.recursive(_valid_leaf, _arith_extend, max_leaves=10)
_grammar = st.recursive(st.one_of(_valid_leaf, _valid_leaf, _valid_leaf,
                                  st.sampled_from(_LEAF_NAMES + _LEAF_NUMBERS)),
                        _extend, max_leaves=12)

_OPS = [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod, ast.MatMult, ast.BitOr]
_ast_leaf = st.one_of(
    st.sampled_from(_LEAF_NAMES).map(lambda n: ast.Name(n, ast.Load())),
    st.one_of(st.integers(-10**400, 10**400), st.floats(), st.sampled_from(["s", b"x", None, True, 1j]))
    .map(ast.Constant))


def _ast_extend(children):
    args = st.lists(children, max_size=3)
    return st.one_of(
        st.tuples(children, st.sampled_from(_OPS), children).map(lambda t: ast.BinOp(t[0], t[1](), t[2])),
        st.tuples(st.sampled_from([ast.USub, ast.UAdd, ast.Invert, ast.Not]), children)
        .map(lambda t: ast.UnaryOp(t[0](), t[1])),
        st.tuples(st.sampled_from(_CALLEES[:-3]), args, st.booleans()).map(lambda t: ast.Call(
            ast.Name(t[0], ast.Load()), t[1],
            [ast.keyword("out", ast.Name("k", ast.Load()))] if t[2] else [])),
        st.tuples(children, st.sampled_from(["real", "__class__", "T"]))
        .map(lambda t: ast.Attribute(t[0], t[1], ast.Load())),
        st.tuples(children, children).map(lambda t: ast.Subscript(t[0], t[1], ast.Load())),
        children.map(lambda c: ast.Lambda(ast.arguments([], [ast.arg("k")], None, [], [], None, []), c)),
        st.tuples(children, children).map(lambda t: ast.Compare(t[0], [ast.Lt()], [t[1]])),
        children.map(lambda c: ast.Starred(c, ast.Load())),
    )


_ast_formulas = st.recursive(_ast_leaf, _ast_extend, max_leaves=10)
_raw_text = st.text(alphabet="kL()+-*/.,0123456789 sqrtminaxelog_[]:=", max_size=40)


def _unparse(tree: ast.AST) -> str:
    try:
        return ast.unparse(tree)
    except Exception:  # noqa: BLE001 - a tree unparse cannot print is not a test case
        return "k"


def _hostile_cols() -> dict[str, np.ndarray]:
    k = np.array([0.0, -1.0, np.nan, np.inf, 1e308, 3.0])
    return {"k": k, "L": np.array([1.0, 0.0, -0.0, 1e-320, 2.0, np.nan]), "depth": np.arange(6.0),
            "sigma_w": np.full(6, 1.5), "z": -k}


@settings(max_examples=400, deadline=None, derandomize=True)
@given(text=st.one_of(_arith, _grammar, _ast_formulas.map(_unparse), _raw_text))
def test_any_formula_is_a_float_array_or_one_formula_error(text):
    """Whatever the string: a FormulaError (one line), or a new float64 array of the rows' shape; the
    columns are never written; nothing else is ever raised."""
    cols = _hostile_cols()
    before = {n: (v, v.copy()) for n, v in cols.items()}
    try:
        out = compile_formula(text, list(cols))(cols)
    except FormulaError as e:
        assert "\n" not in str(e), (text, str(e))
    else:
        assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (6,), text
        assert not any(np.shares_memory(out, v) for v in cols.values()), text
    assert cols.keys() == before.keys()
    for n, (obj, copy) in before.items():
        assert cols[n] is obj and np.array_equal(obj, copy, equal_nan=True), (text, n)
