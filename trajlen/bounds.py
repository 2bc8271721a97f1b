"""Pipeline stage 8 — bounds: Theorems 4–5 of the paper (and the authors' code variants), Raghu et al.
2017's static-network bound, user conjectures, and the mean-field theory of static networks (SPEC §4).

Everything here reads the results table; nothing is integrated again.

How σ_w, σ_b relate to the spec fields
---------------------------------------
The theorems assume weights ``~ N(0, σ_w²/k)`` and biases ``~ N(0, σ_b²)`` — σ_w, σ_b are *standard
deviations* of the un-scaled draws. A spec stores the *labels* ``sigma_w2, sigma_b2`` of the paper's
figures, and their meaning depends on ``weight_init``:

* ``weight_init="var_over_k"`` (``semantics="paper"``): weights have variance ``sigma_w2/k``, biases
  variance ``sigma_b2``, so **σ_w = sqrt(sigma_w2), σ_b = sqrt(sigma_b2)** exactly as in the theorems.
* ``weight_init="std_label"`` (``semantics="reference"``, the authors' code): weights have *standard
  deviation* ``s = sigma_w2`` with no 1/k, biases std ``s_b = sigma_b2``. These draws are *not* of the
  theorems' form for any fixed σ_w; the σ_w that gives the same weight variance is
  **σ_w = sigma_w2·√k** (it grows with the width), and **σ_b = sigma_b2**. The theorems' assumption is
  then violated in spirit (σ_w depends on k) and every report says so.

:func:`theorem_columns` computes σ_w, σ_b per row under one of two conventions: ``"theorem"`` (the
default: the σ of the draws actually made, as just described) or ``"label"`` (σ_w = sqrt(sigma_w2),
σ_b = sqrt(sigma_b2) whatever the initialisation — how the authors' commented bound reads the labels).

The authors' commented bound (``main.m``) uses the labels directly: its ``sigma`` is ``sigma_w2`` and
its ``sigma_b`` is ``sigma_b2`` (the numbers it used as *standard deviations* to draw the weights, but
which ``sqrt(k*sigma)`` treats as a variance). The ``code_*`` bounds below take ``sigma_w2, sigma_b2``
for exactly that reason.

All bounds are lower bounds "up to O(·)": a hidden constant. Reports give ratios measured/bound and
compare growth exponents, never only "≥ with constant 1".
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import math
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .measures import arc_length
from .spec import SpecError

__all__ = [
    "beta", "thm4_node", "thm4_ctrnn", "thm5_ltc", "code_node", "code_ctrnn", "code_ltc",
    "raghu_hardtanh", "raghu_relu", "BOUNDS", "AUTO_BOUNDS", "Bound", "resolve_bound",
    "compile_formula", "FormulaError", "FORMULA_FUNCTIONS", "theorem_columns", "evaluate_bound",
    "check_bound", "fit_growth", "gaussian_expectation", "mean_field_q", "mean_field_chi",
    "mean_field_fixed_point", "mean_field_lengths", "full_space_lengths", "linear_forward", "main",
]

CODE_L_INPUT = 6.2821  #: the constant the authors' commented bound multiplies by (≈ l(I) of 100 points)


# ---------------------------------------------------------------------------------------------
# Bounds: pure functions of numbers (numpy arrays broadcast)
# ---------------------------------------------------------------------------------------------
def _a(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _pow(base, expo) -> np.ndarray:
    """``base**expo`` elementwise; a negative base (a vacuous bound) gives NaN, overflow gives inf."""
    base, expo = _a(base), _a(expo)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return np.where(base >= 0, np.abs(base) ** expo, np.nan)


def _den(k, sigma_w, sigma_b) -> np.ndarray:
    s2 = _a(sigma_w) ** 2 + _a(sigma_b) ** 2
    return np.sqrt(s2 + _a(k) * np.sqrt(s2))


def beta(k, sigma_w, sigma_b) -> np.ndarray:
    """Base of Theorems 4–5 and of Raghu et al.'s hard-tanh bound,
    ``β = σ_w √k / sqrt(σ_w² + σ_b² + k sqrt(σ_w² + σ_b²))``.

    Parameters
    ----------
    k : width; sigma_w, sigma_b : standard deviations of the ``N(0, σ_w²/k)``, ``N(0, σ_b²)`` draws.
    """
    return _a(sigma_w) * np.sqrt(_a(k)) / _den(k, sigma_w, sigma_b)


def thm4_node(k, sigma_w, sigma_b, depth, L, l_input):
    """Theorem 4, paper **Eq. 7** (Neural ODE): ``β^{d·L} · l(I)``.

    Parameters
    ----------
    k, sigma_w, sigma_b : see :func:`beta`.
    depth : d, the layer whose length is bounded (the last layer of a depth-d network).
    L : measured computational depth (SPEC §2).
    l_input : l(I), the input trajectory's length.
    """
    return _pow(beta(k, sigma_w, sigma_b), _a(depth) * _a(L)) * _a(l_input)


def thm4_ctrnn(k, sigma_w, sigma_b, depth, L, l_input):
    """Theorem 4, paper **Eq. 8** (CT-RNN): ``((σ_w − σ_b)√k / sqrt(σ_w²+σ_b²+k sqrt(σ_w²+σ_b²)))^{d·L}
    · l(I)``. For σ_w < σ_b the base is negative and the bound undefined: NaN."""
    base = (_a(sigma_w) - _a(sigma_b)) * np.sqrt(_a(k)) / _den(k, sigma_w, sigma_b)
    return _pow(base, _a(depth) * _a(L)) * _a(l_input)


def thm5_ltc(k, sigma_w, sigma_b, depth, L, z_norm, dt, l_input):
    """Theorem 5, paper **Eq. 9** (LTC): ``β^{d·L} · (σ_w + ‖z^{(d)}‖ / min(δt, L)) · l(I)``.

    Parameters
    ----------
    z_norm : ‖z^{(d)}‖, read as the mean over output points of the 2-norm of the last layer's two PC
        scores (the paper does not say which norm of the trajectory is meant).
    dt : δt, the input step ``2π/(n_samples − 1)``.
    Others : see :func:`thm4_node`.
    """
    tail = _a(sigma_w) + _a(z_norm) / np.minimum(_a(dt), _a(L))
    return _pow(beta(k, sigma_w, sigma_b), _a(depth) * _a(L)) * tail * _a(l_input)


def _code_base(k, s, sb, numerator):
    return np.sqrt(_a(k) * numerator) / np.sqrt(_a(s) + _a(sb) + _a(k) * np.sqrt(_a(s) + _a(sb)))


def code_node(k, sigma_w2, sigma_b2, depth, L):
    """The authors' commented ``lower_bound_node`` (``main.m``; variant of **Eq. 7**)::

        ((sqrt(k*sigma)) / sqrt(sigma + sigma_b + k*sqrt(sigma + sigma_b)))^(n*L) * 6.2821

    with ``sigma = sigma_w2`` and ``sigma_b = sigma_b2`` (the figure labels, as the code plugs them in)
    and ``n = depth``. With σ_w² = sigma_w2, σ_b² = sigma_b2 this is Eq. 7 with l(I) = 6.2821.
    """
    return _pow(_code_base(k, sigma_w2, sigma_b2, _a(sigma_w2)), _a(depth) * _a(L)) * CODE_L_INPUT


def code_ctrnn(k, sigma_w2, sigma_b2, depth, L):
    """The authors' commented ``lower_bound_ctrnn`` (variant of **Eq. 8**): identical to
    :func:`code_node` — the code's numerator is ``sqrt(sqrt(1)*k*sigma)``, i.e. σ_w, not σ_w − σ_b."""
    return code_node(k, sigma_w2, sigma_b2, depth, L)


def code_ltc(k, sigma_w2, sigma_b2, depth, L, z_norm_code, n_samples):
    """The authors' commented ``lower_bound_ltc`` (variant of **Eq. 9**)::

        ((sqrt(k*(sigma - sigma_b))) / sqrt(sigma + sigma_b + k*sqrt(sigma + sigma_b)))^n
            * |sigma + min(1/L, 1/steps) * norm((z1 + z2)/2)| * 6.2821

    ``sigma = sigma_w2``, ``sigma_b = sigma_b2`` (labels), ``n = depth`` (exponent n, *not* n·L),
    ``steps = n_samples`` (100), ``norm((z1+z2)/2) = z_norm_code`` (2-norm over all output points).
    For sigma_w2 < sigma_b2 the square root is imaginary in MATLAB; here NaN.
    """
    with np.errstate(invalid="ignore"):
        base = _code_base(k, sigma_w2, sigma_b2, _a(sigma_w2) - _a(sigma_b2))
    tail = np.abs(_a(sigma_w2) + np.minimum(1.0 / _a(L), 1.0 / _a(n_samples)) * _a(z_norm_code))
    return _pow(base, _a(depth)) * tail * CODE_L_INPUT


def raghu_hardtanh(k, sigma_w, sigma_b, depth, l_input):
    """Raghu et al. 2017, Theorem 1 (hard-tanh), static network ``z^{(d+1)} = φ(W z^{(d)} + b)``:
    ``E[l(z^{(d)})] ≥ O(β^d) l(I)`` — the base of the paper's **Eq. 7** with exponent d (no L)."""
    return _pow(beta(k, sigma_w, sigma_b), _a(depth)) * _a(l_input)


def raghu_relu(k, sigma_w, depth, l_input):
    """Raghu et al. 2017, Theorem 1 (ReLU): ``E[l(z^{(d)})] ≥ O((σ_w √k / √(k+1))^d) l(I)``."""
    return _pow(_a(sigma_w) * np.sqrt(_a(k)) / np.sqrt(_a(k) + 1.0), _a(depth)) * _a(l_input)


@dataclass(frozen=True)
class Bound:
    """A named bound: ``func``'s parameter names are column names of :func:`theorem_columns`."""

    name: str
    func: Callable[..., Any]
    equation: str
    variant: str  # "paper", "code", "static" or "user"

    @property
    def columns(self) -> tuple[str, ...]:
        if isinstance(self.func, Formula):
            return self.func.names
        return tuple(inspect.signature(self.func).parameters)

    def __call__(self, cols: Mapping[str, Any]) -> np.ndarray:
        if isinstance(self.func, Formula):
            n = np.shape(next(iter(cols.values())))
            return np.broadcast_to(self.func(cols), n).astype(np.float64)
        return evaluate_bound(self.func, cols)


#: name → bound (the paper's equation number in each docstring).
BOUNDS: dict[str, Bound] = {b.name: b for b in (
    Bound("thm4_node", thm4_node, "paper Eq. 7 (Theorem 4, Neural ODE)", "paper"),
    Bound("thm4_ctrnn", thm4_ctrnn, "paper Eq. 8 (Theorem 4, CT-RNN)", "paper"),
    Bound("thm5_ltc", thm5_ltc, "paper Eq. 9 (Theorem 5, LTC)", "paper"),
    Bound("code_node", code_node, "authors' code, variant of Eq. 7", "code"),
    Bound("code_ctrnn", code_ctrnn, "authors' code, variant of Eq. 8", "code"),
    Bound("code_ltc", code_ltc, "authors' code, variant of Eq. 9", "code"),
    Bound("raghu_hardtanh", raghu_hardtanh, "Raghu et al. 2017 Thm 1 (hard-tanh)", "static"),
    Bound("raghu_relu", raghu_relu, "Raghu et al. 2017 Thm 1 (ReLU)", "static"),
)}

#: ``--bound auto``: (variant, model) → bound name. Static networks use Raghu's bound in both variants.
AUTO_BOUNDS: dict[tuple[str, str], str] = {
    ("paper", "node"): "thm4_node", ("paper", "ctrnn"): "thm4_ctrnn", ("paper", "ltc"): "thm5_ltc",
    ("code", "node"): "code_node", ("code", "ctrnn"): "code_ctrnn", ("code", "ltc"): "code_ltc",
    ("paper", "mlp"): "raghu_hardtanh", ("code", "mlp"): "raghu_hardtanh",
}


# ---------------------------------------------------------------------------------------------
# Columns a bound or conjecture may name
# ---------------------------------------------------------------------------------------------
#: Columns :func:`theorem_columns` derives (besides every numeric column of the table).
DERIVED_COLUMNS = {
    "k": "width",
    "d": "depth (the bounded layer)",
    "sigma_w": "σ_w, std of the N(0, σ_w²/k) weight draw (see module docstring for the convention)",
    "sigma_b": "σ_b, std of the N(0, σ_b²) bias draw",
    "dt": "input step δt = 2π/(n_samples − 1) (the solver's fixed step is solver_dt)",
    "solver_dt": "the fixed-step solvers' step (spec field SolverSpec.dt)",
    "l_input": "l(I), the input's length",
    "pi": "π",
}


#: Measured outputs a bound must not be a function of (and bookkeeping columns).
_NOT_BOUND_INPUTS = {"dt", "length", "bound", "ratio", "wall_s", "seed", "sample", "schema_version",
                     "var_pc1", "var_pc2"}


def theorem_columns(df: pd.DataFrame, sigma: str = "theorem") -> dict[str, np.ndarray]:
    """Arrays, one entry per row, that bounds and conjectures may name.

    Every numeric column of ``df`` (``width, depth, sigma_w2, sigma_b2, L, z_norm, z_norm_code,
    n_samples, length, …``) plus :data:`DERIVED_COLUMNS`. ``sigma="theorem"``: σ_w, σ_b of the draws
    actually made (``var_over_k``: sqrt of the labels; ``std_label``: ``σ_w = sigma_w2·√k``,
    ``σ_b = sigma_b2``); ``sigma="label"``: ``σ_w = sqrt(sigma_w2)``, ``σ_b = sqrt(sigma_b2)``.
    """
    if sigma not in ("theorem", "label"):
        raise SpecError(f"sigma convention must be one of theorem, label, got {sigma!r}")
    cols: dict[str, np.ndarray] = {}
    for c in df.columns:
        if c in _NOT_BOUND_INPUTS:
            continue
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            cols[c] = s.to_numpy(dtype=np.float64)
    n = len(df)
    k = df["width"].to_numpy(dtype=np.float64)
    s2w = df["sigma_w2"].to_numpy(dtype=np.float64)
    s2b = df["sigma_b2"].to_numpy(dtype=np.float64)
    if sigma == "label" or "weight_init" not in df.columns:
        std_label = np.zeros(n, dtype=bool)
    else:
        std_label = (df["weight_init"] == "std_label").to_numpy()
    cols["k"] = k
    cols["d"] = df["depth"].to_numpy(dtype=np.float64)
    cols["sigma_w"] = np.where(std_label, s2w * np.sqrt(k), np.sqrt(s2w))
    cols["sigma_b"] = np.where(std_label, s2b, np.sqrt(s2b))
    ns = (df["n_samples"] if "n_samples" in df.columns else pd.Series(100, index=df.index))
    cols["dt"] = 2.0 * math.pi / (ns.to_numpy(dtype=np.float64) - 1.0)
    if "dt" in df.columns:
        cols["solver_dt"] = df["dt"].to_numpy(dtype=np.float64)
    if "l_input" not in cols:
        cols["l_input"] = np.full(n, 2.0 * math.pi)
    cols["pi"] = np.full(n, math.pi)
    return cols


def evaluate_bound(func: Callable[..., Any], cols: Mapping[str, Any]) -> np.ndarray:
    """Call ``func`` with the columns named by its parameters; an unknown name is a SpecError that
    lists the valid names."""
    params = inspect.signature(func).parameters
    missing = [p for p, v in params.items() if p not in cols and v.default is inspect.Parameter.empty]
    if missing:
        raise SpecError(f"bound {getattr(func, '__name__', func)!r} needs column(s) "
                        f"{', '.join(missing)} that the results lack; valid names: "
                        f"{', '.join(sorted(cols))}")
    with np.errstate(all="ignore"):
        out = func(**{p: cols[p] for p in params if p in cols})
    return np.broadcast_to(np.asarray(out, dtype=np.float64),
                           np.shape(next(iter(cols.values())))).copy()


# ---------------------------------------------------------------------------------------------
# Conjectures: a safe formula evaluator
# ---------------------------------------------------------------------------------------------
class FormulaError(SpecError):
    """A bound formula that is malformed, unsafe, or names an unknown column."""


def _nary(f2):
    def g(*args):
        if len(args) < 2:
            raise FormulaError(f"{f2.__name__} needs at least 2 arguments, got {len(args)}")
        out = args[0]
        for a in args[1:]:
            out = f2(out, a)
        return out
    return g


#: Functions a formula may call (elementwise on numpy arrays). min/max take ≥ 2 arguments.
FORMULA_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log2": np.log2, "log10": np.log10,
    "abs": np.abs, "min": _nary(np.minimum), "max": _nary(np.maximum), "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "arctan": np.arctan, "floor": np.floor,
    "ceil": np.ceil, "sign": np.sign, "erf": None,  # filled below (scipy import kept lazy)
}
FORMULA_MAX_CHARS = 1000
FORMULA_MAX_NODES = 300
FORMULA_MAX_EXPONENT = 1000.0
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
           ast.Pow: np.power}
_UNOPS = {ast.USub: np.negative, ast.UAdd: np.positive}


def _erf(x):
    from scipy.special import erf

    return erf(x)


FORMULA_FUNCTIONS["erf"] = _erf


@dataclass(frozen=True)
class Formula:
    """A parsed, validated bound formula. Call it with a mapping of column arrays."""

    text: str
    tree: ast.Expression
    names: tuple[str, ...]

    @property
    def __name__(self) -> str:  # for messages
        return self.text

    def __call__(self, cols: Mapping[str, Any]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(self._eval(self.tree.body, cols), dtype=np.float64)

    def _eval(self, node: ast.AST, cols: Mapping[str, Any]):
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return cols[node.id]
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, cols), self._eval(node.right, cols)
            if isinstance(node.op, ast.Pow):
                # float powers: a negative base to a fractional power is NaN, never complex
                return np.power(np.asarray(left, dtype=np.float64), right)
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            return _UNOPS[type(node.op)](self._eval(node.operand, cols))
        if isinstance(node, ast.Call):
            f = FORMULA_FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
            return f(*(self._eval(a, cols) for a in node.args))
        raise FormulaError(f"unsupported expression {type(node).__name__}")  # unreachable


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def _reject(what: str, text: str) -> FormulaError:
    return FormulaError(f"bound formula {_short(text)!r}: {what}")


def compile_formula(text: str, names: Sequence[str] | Mapping[str, Any]) -> Formula:
    """Parse and validate a bound formula over column ``names``.

    Allowed: numeric literals, the named columns, ``+ - * / **``, unary ``-``/``+``, parentheses and
    calls of :data:`FORMULA_FUNCTIONS` with positional arguments. Everything else — attribute access,
    subscripts, lambdas, comprehensions, keyword arguments, strings, dunder names, calls of anything not
    whitelisted, literal exponents above :data:`FORMULA_MAX_EXPONENT`, formulas over
    :data:`FORMULA_MAX_CHARS` characters or :data:`FORMULA_MAX_NODES` nodes — raises
    :class:`FormulaError`. Nothing is ever passed to ``eval``: the tree is walked by :class:`Formula`.
    """
    if not isinstance(text, str):
        raise FormulaError(f"bound formula must be a string, got {type(text).__name__}")
    if len(text) > FORMULA_MAX_CHARS:
        raise FormulaError(f"bound formula is {len(text)} characters long; at most "
                           f"{FORMULA_MAX_CHARS} are allowed")
    valid = set(names)
    listing = (f"valid names: {', '.join(sorted(valid))}; functions: "
               f"{', '.join(sorted(FORMULA_FUNCTIONS))}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise FormulaError(f"malformed bound formula {_short(text)!r}: {e.msg} (column {e.offset}); "
                           f"{listing}") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > FORMULA_MAX_NODES:
        raise _reject(f"too complex ({len(nodes)} syntax nodes, at most {FORMULA_MAX_NODES})", text)
    used: list[str] = []
    for node in nodes:
        if isinstance(node, (ast.Expression, ast.Load)) or type(node) in _BINOPS or type(node) in _UNOPS:
            continue
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise _reject(f"only numeric literals are allowed, got {v!r}", text)
            try:
                out_of_range = not math.isfinite(float(v)) or abs(float(v)) > 1e300
            except OverflowError:
                out_of_range = True
            if out_of_range:
                raise _reject(f"numeric literal {_short(str(v), 20)} is out of range", text)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise _reject(f"operator {type(node.op).__name__} is not allowed (only + - * / **)",
                              text)
            if isinstance(node.op, ast.Pow):
                e = node.right
                if isinstance(e, ast.UnaryOp) and isinstance(e.operand, ast.Constant):
                    e = e.operand
                if isinstance(e, ast.Constant) and isinstance(e.value, (int, float)) \
                        and abs(float(e.value)) > FORMULA_MAX_EXPONENT:
                    raise _reject(f"exponent {e.value!r} is too large (at most "
                                  f"{FORMULA_MAX_EXPONENT:g} in absolute value)", text)
                if isinstance(node.right, ast.BinOp) and isinstance(node.right.op, ast.Pow) \
                        and isinstance(node.left, ast.Constant):
                    raise _reject("a literal power tower (a ** b ** c) is not allowed", text)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNOPS:
                raise _reject(f"operator {type(node.op).__name__} is not allowed", text)
        elif isinstance(node, ast.Name):
            if node.id.startswith("__"):
                raise _reject(f"name {node.id!r} is not allowed (dunder names are never evaluated)",
                              text)
            if node.id not in valid and node.id not in FORMULA_FUNCTIONS:
                raise FormulaError(f"unknown name {node.id!r} in bound formula {_short(text)!r}; {listing}")
            used.append(node.id)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FORMULA_FUNCTIONS:
                what = ast.unparse(node.func) if hasattr(ast, "unparse") else "?"
                raise _reject(f"call of {what!r} is not allowed; functions: "
                              f"{', '.join(sorted(FORMULA_FUNCTIONS))}", text)
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise _reject("keyword or starred arguments are not allowed", text)
            if not node.args:
                raise _reject(f"{node.func.id}() needs an argument", text)
        elif isinstance(node, ast.Attribute):
            raise _reject("attribute access ('.') is not allowed", text)
        elif isinstance(node, ast.Subscript):
            raise _reject("subscripts ('[...]') are not allowed", text)
        elif isinstance(node, ast.Lambda):
            raise _reject("lambda is not allowed", text)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            raise _reject("comprehensions are not allowed", text)
        else:
            raise _reject(f"{type(node).__name__} is not allowed (only numbers, column names, "
                          "+ - * / **, parentheses and whitelisted functions)", text)
    # a function name used as a value, or a column name called, is an error too
    for node in nodes:
        if isinstance(node, ast.Name) and node.id in FORMULA_FUNCTIONS and node.id not in valid:
            parents_ok = any(isinstance(p, ast.Call) and p.func is node for p in nodes)
            if not parents_ok:
                raise _reject(f"{node.id!r} is a function; call it, e.g. {node.id}(x)", text)
    return Formula(text, tree, tuple(dict.fromkeys(n for n in used if n in valid)))


_MODULE_FUNC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def resolve_bound(spec: str, names: Sequence[str] | Mapping[str, Any]) -> Bound:
    """A bound from its registry name, a ``module:function``, or a formula over ``names``."""
    if spec in BOUNDS:
        return BOUNDS[spec]
    if _MODULE_FUNC.match(spec):
        mod_name, func_name = spec.split(":")
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as e:
            raise SpecError(f"bound {spec!r}: cannot import module {mod_name!r}: {e}") from None
        func = getattr(mod, func_name, None)
        if not callable(func):
            raise SpecError(f"bound {spec!r}: module {mod_name!r} has no function {func_name!r}")
        bad = [p for p in inspect.signature(func).parameters if p not in names]
        if bad:
            raise SpecError(f"bound {spec!r}: parameter(s) {', '.join(bad)} are not columns; valid "
                            f"names: {', '.join(sorted(names))}")
        return Bound(spec, func, f"user function {spec}", "user")
    if re.fullmatch(r"[A-Za-z_]\w*", spec.strip()) and spec.strip() not in names:
        raise SpecError(f"unknown bound {spec!r}; registered bounds: {', '.join(BOUNDS)}, or 'auto', "
                        f"or a formula over: {', '.join(sorted(names))}")
    f = compile_formula(spec, names)
    return Bound(spec, f, "user formula", "user")


# ---------------------------------------------------------------------------------------------
# Checking a bound against a results table
# ---------------------------------------------------------------------------------------------
CONFIG_COLUMNS = ("semantics", "model", "activation", "width", "depth", "sigma_w2", "sigma_b2",
                  "weight_init", "recurrence", "ltc_decay", "ltc_A", "hardtanh", "input_kind",
                  "n_samples", "method", "controller", "rtol", "atol", "output", "refine", "backend")
#: sweep axis → (column of theorem_columns used as x, fit kind)
AXES: dict[str, tuple[str, str]] = {"k": ("k", "loglog"), "sigma_w": ("sigma_w", "loglog"),
                                    "depth": ("d", "loglinear")}
_AXIS_CONFIG = {"k": "width", "sigma_w": "sigma_w2", "depth": "depth"}


def recurrent_weights_zero(df: pd.DataFrame) -> np.ndarray:
    """Per row: were the network's recurrent weights zero (or absent)? True for ``recurrence="none"``,
    for node/CT-RNN under ``"ltc_only"`` (they have no recurrent term) and for static ``mlp``."""
    rec = df["recurrence"].astype(str).to_numpy() if "recurrence" in df.columns else np.array(
        ["shared"] * len(df))
    model = df["model"].astype(str).to_numpy()
    return (rec == "none") | ((rec == "ltc_only") & np.isin(model, ["node", "ctrnn"])) | (model == "mlp")


def _varying(df: pd.DataFrame, cols: Sequence[str] = CONFIG_COLUMNS) -> list[str]:
    keep = [c for c in cols if c in df.columns and df[c].astype(str).nunique() > 1]
    return keep if "model" in keep else ["model"] + keep


def bound_values(df: pd.DataFrame, bound: str, variant: str = "paper",
                 sigma: str = "theorem") -> tuple[np.ndarray, list[str]]:
    """The bound per row and the bound name used per row (``bound="auto"``: per model, see
    :data:`AUTO_BOUNDS`; relu static networks get :func:`raghu_relu`)."""
    if variant not in ("paper", "code"):
        raise SpecError(f"variant must be one of paper, code, got {variant!r}")
    cols = theorem_columns(df, sigma)
    if bound != "auto":
        b = resolve_bound(bound, cols)
        return b(cols), [b.name] * len(df)
    out = np.full(len(df), np.nan)
    used = [""] * len(df)
    models = df["model"].astype(str).to_numpy()
    acts = df["activation"].astype(str).to_numpy() if "activation" in df.columns else None
    for m in np.unique(models):
        if (variant, m) not in AUTO_BOUNDS:
            raise SpecError(f"no bound registered for model {m!r}; choose one with --bound "
                            f"({', '.join(BOUNDS)})")
        names = np.full(len(df), AUTO_BOUNDS[(variant, m)], dtype=object)
        if m == "mlp" and acts is not None:
            names[acts == "relu"] = "raghu_relu"
        for name in np.unique(names[models == m]):
            sel = (models == m) & (names == name)
            sub = {c: v[sel] for c, v in cols.items()}
            out[sel] = BOUNDS[name](sub)
            for i in np.flatnonzero(sel):
                used[i] = name
    return out, used


def _ols(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """OLS slope with a two-sided 95% t-interval (NaN CI with fewer than 3 points)."""
    from scipy import stats

    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    if n < 2 or np.ptp(x) == 0:
        return dict(slope=np.nan, lo=np.nan, hi=np.nan, n=n)
    if np.ptp(y) == 0:
        return dict(slope=0.0, lo=0.0, hi=0.0, n=n)
    r = stats.linregress(x, y)
    half = stats.t.ppf(0.975, n - 2) * r.stderr if n > 2 else np.nan
    return dict(slope=float(r.slope), lo=float(r.slope - half), hi=float(r.slope + half), n=n)


def fit_growth(table: pd.DataFrame, axis: str, by: Sequence[str]) -> pd.DataFrame:
    """Growth exponent of measured length and of the bound along one sweep axis, per group ``by``.

    ``table`` has columns ``x`` (the axis value per row: k, σ_w or depth), ``length``, ``bound`` and the
    group columns. ``k`` and ``σ_w`` are fitted log–log (``length ∝ x^slope``), depth log-linear
    (``length ∝ e^{slope·d}``, i.e. a factor ``e^slope`` per layer). Measured and bound are fitted the
    same way, per sample, so the bound's slope is "the exponent the bound predicts" over the same points.
    """
    _, kind = AXES[axis]
    rows = []
    groups = table.groupby(list(by), sort=True, dropna=False) if by else [((), table)]
    for key, g in groups:
        if g["x"].nunique() < 2:
            continue
        x = np.log(g["x"].to_numpy(float)) if kind == "loglog" else g["x"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ym = np.log(g["length"].to_numpy(float))
            yb = np.log(g["bound"].to_numpy(float))
        m, b = _ols(x, ym), _ols(x, yb)
        rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        rec.update(axis=axis, fit=kind, n=m["n"], x_values=" ".join(f"{v:g}" for v in
                                                                    sorted(g["x"].unique())),
                   slope=m["slope"], slope_lo=m["lo"], slope_hi=m["hi"],
                   bound_slope=b["slope"], bound_slope_lo=b["lo"], bound_slope_hi=b["hi"])
        rec["bound_in_ci"] = bool(m["lo"] <= b["slope"] <= m["hi"]) if np.isfinite(m["lo"]) else None
        rows.append(rec)
    return pd.DataFrame(rows)


@dataclass
class BoundReport:
    rows: pd.DataFrame       # one per ok sample, with bound, ratio, bound_name
    per_config: pd.DataFrame
    fits: pd.DataFrame
    header: list[str]
    config_columns: list[str]


def check_bound(df: pd.DataFrame, bound: str = "auto", variant: str = "paper",
                sigma: str = "theorem", zero_recurrent: bool = False) -> BoundReport:
    """Bound, ratio measured/bound per sample; per-configuration summary; growth fits (SPEC §4).

    Parameters
    ----------
    df : results table (:func:`trajlen.results.read_results`).
    bound : ``"auto"``, a registry name (:data:`BOUNDS`), ``module:function`` or a formula.
    variant : ``"paper"`` or ``"code"`` — which family ``"auto"`` picks.
    sigma : ``"theorem"`` or ``"label"`` — see :func:`theorem_columns`.
    zero_recurrent : keep only rows whose recurrent weights were zero (the authors' code requires it
        for its variant).
    """
    if df.empty or "length" not in df.columns or "model" not in df.columns:
        raise SpecError("results table is empty or lacks the length/model columns")
    header = []
    n_all = len(df)
    df = df[df["status"] == "ok"] if "status" in df.columns else df
    if len(df) < n_all:
        header.append(f"{n_all - len(df)} of {n_all} rows are failed solves and are left out")
    zero = recurrent_weights_zero(df)
    if zero_recurrent:
        df = df[zero]
        if df.empty:
            raise SpecError("--zero-recurrent: no rows with zero recurrent weights; run the sweep with "
                            "--recurrence none")
        zero = zero[zero]
    if df.empty:
        raise SpecError("no successful rows to check")
    df = df.reset_index(drop=True)
    b, used = bound_values(df, bound, variant, sigma)
    out = df.copy()
    out["bound"] = b
    out["bound_name"] = used
    out["recurrent_zero"] = zero
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = out["length"].to_numpy(float) / b
    cols = theorem_columns(out, sigma)
    out["sigma_w"] = cols["sigma_w"]
    out["k"], out["d"] = cols["k"], cols["d"]

    names = sorted(set(used))
    header.insert(0, f"bound: {bound}" + (f" (variant {variant})" if bound == "auto" else "")
                  + "; used: " + ", ".join(f"{n} [{BOUNDS[n].equation}]" if n in BOUNDS else n
                                           for n in names))
    header.append(f"recurrent weights: zero in {int(zero.sum())}/{len(zero)} rows"
                  + (" (kept only those: --zero-recurrent)" if zero_recurrent else ""))
    if any(n.startswith("code_") for n in names) and not zero.all():
        header.append("note: the authors' code says its bound holds only with recurrent weights set to "
                      "zero; some rows had recurrent weights (use --zero-recurrent, or sweep with "
                      "--recurrence none)")
    if "weight_init" in out.columns and (out["weight_init"] == "std_label").any():
        header.append("note: rows with weight_init=std_label (reference semantics) drew weights with "
                      "std = sigma_w2 and no 1/k, not the N(0, σ_w²/k) the theorems assume; σ_w is "
                      + ("taken as sqrt(sigma_w2) (--sigma label)" if sigma == "label" else
                         "taken as the effective sigma_w2·√k (--sigma theorem), σ_b = sigma_b2"))
    nan_b = int(np.sum(~np.isfinite(b)))
    if nan_b:
        header.append(f"note: the bound is undefined (NaN/inf) for {nan_b} rows, e.g. a negative base "
                      "(σ_w < σ_b in Eq. 8, sigma_w2 < sigma_b2 in code_ltc)")

    by = _varying(out)
    per = []
    for key, g in out.groupby(by, sort=True, dropna=False):
        rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        r = g["ratio"].to_numpy(float)
        rec.update(n=len(g), length_mean=g["length"].mean(), length_median=g["length"].median(),
                   bound_mean=g["bound"].mean(), ratio_mean=np.nanmean(r) if np.isfinite(r).any()
                   else np.nan, ratio_min=np.nanmin(r) if np.isfinite(r).any() else np.nan,
                   violations=int(np.sum(r < 1)), bound_name=",".join(sorted(set(g["bound_name"]))),
                   recurrent_zero=bool(g["recurrent_zero"].all()))
        per.append(rec)
    per_config = pd.DataFrame(per)

    fits = []
    for axis, (xcol, _) in AXES.items():
        cfg = _AXIS_CONFIG[axis]
        others = [c for c in by if c != cfg]
        if cfg not in out.columns or out[cfg].nunique() < 2:
            continue
        t = out[others + ["length", "bound"]].copy()
        t["x"] = out[xcol]
        fits.append(fit_growth(t, axis, others))
    fits = [f for f in fits if not f.empty]
    fits_df = pd.concat(fits, ignore_index=True) if fits else pd.DataFrame()
    if not fits_df.empty:
        group_cols = [c for c in by if c in fits_df.columns]
        fits_df.insert(0, "group", [", ".join(f"{c}={_fmt(r[c])}" for c in group_cols if pd.notna(r[c]))
                                    for _, r in fits_df.iterrows()])
        first = ["axis", "fit", "group"] + group_cols
        fits_df = fits_df[first + [c for c in fits_df.columns if c not in first]]
    return BoundReport(out, per_config, fits_df, header, by)


def _fmt(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return f"{v:g}" if isinstance(v, float) else str(v)


def format_report(rep: BoundReport) -> str:
    lines = list(rep.header)
    pc = rep.per_config.copy()
    show = rep.config_columns + ["n", "length_mean", "length_median", "bound_mean", "ratio_mean",
                                 "ratio_min", "violations"]
    lines += ["", "per configuration (ratio = measured length / bound; violation: ratio < 1):",
              pc[show].to_string(index=False, float_format=lambda v: f"{v:.4g}")]
    if not rep.fits.empty:
        f = rep.fits.copy()
        f["measured exponent [95% CI]"] = [f"{s:.3g} [{lo:.3g}, {hi:.3g}]" for s, lo, hi in
                                           zip(f["slope"], f["slope_lo"], f["slope_hi"])]
        f["bound exponent [95% CI]"] = [f"{s:.3g} [{lo:.3g}, {hi:.3g}]" for s, lo, hi in
                                        zip(f["bound_slope"], f["bound_slope_lo"], f["bound_slope_hi"])]
        keep = ["axis", "fit", "group", "n", "x_values", "measured exponent [95% CI]",
                "bound exponent [95% CI]", "bound_in_ci"]
        lines += ["", "growth fits (k, σ_w: log-log, length ∝ x^exponent; depth: log-linear, "
                  "length ∝ e^{exponent·d}):", f[keep].to_string(index=False)]
    else:
        lines += ["", "growth fits: no sweep axis (width, sigma_w2, depth) varies"]
    return "\n".join(lines)


_SHORT = {"width": "k", "sigma_w2": "σ_w²", "sigma_b2": "σ_b²", "depth": "d"}


def plot_report(rep: BoundReport, out_dir: str | Path, fmt: str = "png") -> list[Path]:
    """Measured vs bound per sweep axis (log y): sample points, medians, bound medians."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    rows = rep.rows
    for axis, (xcol, kind) in AXES.items():
        cfg = _AXIS_CONFIG[axis]
        if cfg not in rows.columns or rows[cfg].nunique() < 2:
            continue
        others = [c for c in rep.config_columns if c != cfg]
        groups = rows.groupby(others, sort=True, dropna=False) if others else [((), rows)]
        groups = [(k if isinstance(k, tuple) else (k,), g) for k, g in groups if g[cfg].nunique() >= 2]
        fig, ax = plt.subplots(figsize=(7.5 + 2.0 * (len(groups) > 6), 4.4))
        cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
        for i, (key, g) in enumerate(groups):
            label = ", ".join(f"{_SHORT.get(c, c)}={_fmt(v)}" for c, v in zip(others, key))
            c = cmap(i % cmap.N)
            ax.scatter(g[xcol], g["length"], s=8, alpha=0.35, color=c)
            med = g.groupby(xcol)[["length", "bound"]].median()
            ax.plot(med.index, med["length"], "-o", color=c, ms=3, label=label)
            ax.plot(med.index, med["bound"], "--", color=c)
        ax.set_yscale("log")
        if kind == "loglog":
            ax.set_xscale("log")
        ax.set_xlabel({"k": "width k", "sigma_w": "σ_w", "depth": "depth d"}[axis])
        ax.set_ylabel("trajectory length")
        ax.set_title(f"measured vs bound along {axis}", fontsize=10)
        ax.legend(fontsize=6, ncol=1 + (len(groups) > 8), loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  title="solid: measured (median), dashed: bound", title_fontsize=6)
        fig.tight_layout()
        path = out_dir / f"bounds_{axis}.{fmt}"
        meta = {"Software": None} if fmt == "png" else {"Creator": None, "Producer": None,
                                                         "CreationDate": None}
        fig.savefig(path, dpi=130, metadata=meta)  # no version/date: reruns give the same bytes
        plt.close(fig)
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------
# Static networks: mean-field theory (Poole et al. 2016) and helpers
# ---------------------------------------------------------------------------------------------
_PHI = {
    "hardtanh": (lambda h: np.clip(h, -1.0, 1.0), lambda h: 1.0 * (np.abs(h) < 1.0), (-1.0, 1.0)),
    "relu": (lambda h: np.maximum(h, 0.0), lambda h: 1.0 * (h > 0.0), (0.0,)),
    "linear": (lambda h: h, lambda h: np.ones_like(h), ()),
    "tanh": (np.tanh, lambda h: 1.0 - np.tanh(h) ** 2, ()),
}


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], q: float,
                         kinks: Sequence[float] = (), n: int = 24, method: str = "panels") -> float:
    """``∫ Dz f(√q z)`` (Dz the standard normal measure) by Gauss quadrature.

    ``method="hermite"``: ``n``-node Gauss–Hermite — exact for polynomials, fine for smooth ``f`` that
    vary on the scale of z, but it converges slowly through kinks (errors of several % at 200 nodes for
    hard-tanh's ``φ'²``) and misses features narrower than the node spacing (``tanh'(√q z)²`` at large q).
    ``method="panels"`` (default): the z-line ``[−12, 12]`` is cut at the kinks (points in h where f or
    its derivative jumps, e.g. ±1 for hard-tanh, mapped to z = h/√q), at ``±1/√q, ±3/√q`` and into unit
    panels, and each panel gets ``n``-node Gauss–Legendre against the normal density — accurate to
    ~1e-12 for the piecewise-linear activations (checked against closed forms in the tests).
    """
    if q <= 0:
        return float(np.asarray(f(np.zeros(1)))[0])
    s = math.sqrt(q)
    if method == "hermite":
        x, w = np.polynomial.hermite.hermgauss(n)
        return float(np.sum(w * f(math.sqrt(2.0) * s * x)) / math.sqrt(math.pi))
    if method != "panels":
        raise ValueError(f"method must be one of panels, hermite, got {method!r}")
    pts = [*(h / s for h in kinks), 1 / s, -1 / s, 3 / s, -3 / s, *np.arange(-12.0, 12.5, 1.0)]
    cuts = np.unique(np.clip(pts, -12.0, 12.0))
    x, w = np.polynomial.legendre.leggauss(n)
    a, b = cuts[:-1, None], cuts[1:, None]
    z = 0.5 * (b - a) * x + 0.5 * (a + b)  # (panels, n)
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return float(np.sum(0.5 * (b - a) * w * pdf * f(s * z)))


def _phi(activation: str):
    if activation not in _PHI:
        raise SpecError(f"mean-field activation must be one of {', '.join(_PHI)}, got {activation!r}")
    return _PHI[activation]


def mean_field_q(q: float, sigma_w2: float, sigma_b2: float, activation: str = "hardtanh") -> float:
    """One step of the length map (Poole et al. 2016, Eq. 3): ``σ_w² ∫Dz φ(√q z)² + σ_b²``, weights
    ``N(0, σ_w²/k)``, biases ``N(0, σ_b²)`` (σ_w², σ_b² are variances: ``weight_init="var_over_k"``)."""
    phi, _, kinks = _phi(activation)
    return sigma_w2 * gaussian_expectation(lambda h: phi(h) ** 2, q, kinks) + sigma_b2


def mean_field_chi(q: float, sigma_w2: float, activation: str = "hardtanh") -> float:
    """``χ(q) = σ_w² ∫Dz φ'(√q z)²``: the mean squared stretch of an infinitesimal segment per layer at
    pre-activation variance q (Poole et al. 2016, Eq. 7; χ₁ at q = q*)."""
    _, dphi, kinks = _phi(activation)
    return sigma_w2 * gaussian_expectation(lambda h: dphi(h) ** 2, q, kinks)


def mean_field_fixed_point(sigma_w2: float, sigma_b2: float, activation: str = "hardtanh",
                           q0: float = 1.0, tol: float = 1e-13, max_iter: int = 10_000) -> float:
    """q*, the fixed point of :func:`mean_field_q` (iterated; the map is a contraction for hard-tanh)."""
    if activation == "relu" and sigma_w2 == 2.0:
        raise ValueError("ReLU at σ_w² = 2 has no finite fixed point q* (the map is q ↦ q + σ_b²); "
                         "χ = σ_w²/2 = 1 does not depend on q")
    q = q0
    for _ in range(max_iter):
        q_new = mean_field_q(q, sigma_w2, sigma_b2, activation)
        if abs(q_new - q) <= tol * max(1.0, q):
            return q_new
        q = q_new
    raise RuntimeError(f"q* did not converge for σ_w²={sigma_w2}, σ_b²={sigma_b2}, {activation}")


def mean_field_lengths(sigma_w2: float, sigma_b2: float, depth: int, width: int,
                       activation: str = "hardtanh", l_input: float = 2.0 * math.pi,
                       input_norm2: float = 1.0) -> np.ndarray:
    """Mean-field full-space length of layers 1..depth of a static network fed a circle.

    Layer 1 reads the 2-D input through weights of variance ``σ_w²/k`` (k = width, as in
    :func:`trajlen.models.mlp.forward`), so its pre-activation variance is
    ``q¹ = σ_w² ‖I‖²/k + σ_b²`` and a tangent's squared norm is multiplied by ``σ_w²`` before φ';
    afterwards ``q^{ℓ+1} = σ_w² ∫Dz φ(√q^ℓ z)² + σ_b²``. The length of layer ℓ is
    ``l(I) Π_{j≤ℓ} sqrt(χ(q^j))``; it grows by √χ₁ per layer once q has reached q*. Exact at infinite
    width when the tangent is orthogonal to the state (true for the circle: ‖I‖ is constant).
    """
    q = sigma_w2 * input_norm2 / width + sigma_b2
    out = []
    length = l_input
    for _ in range(depth):
        length *= math.sqrt(mean_field_chi(q, sigma_w2, activation))
        out.append(length)
        q = mean_field_q(q, sigma_w2, sigma_b2, activation)
    return np.array(out)


def full_space_lengths(x: np.ndarray, depth: int, width: int) -> np.ndarray:
    """Arc length of each layer's states in the full k-dimensional space (no PCA).

    ``x`` is ``(T, depth·width)`` (layers stacked, as in :class:`~trajlen.trajectory.Trajectory`) or
    ``(T, depth, width)``; returns ``(depth,)``. The PCA-projected length of SPEC §2 is never longer.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), depth, width)
    return np.array([arc_length(x[:, layer]) for layer in range(depth)])


def linear_forward(params, inputs: np.ndarray) -> np.ndarray:
    """A static network with identity activation built from trajlen :class:`~trajlen.params.Params`:
    ``z^{(ℓ+1)} = z^{(ℓ)} W_ℓ + b_ℓ`` (layer 1 reads ``W[0, :2, :]``). Returns ``(T, depth, width)``."""
    out, u = [], np.asarray(inputs, dtype=np.float64)
    for layer in range(params.depth):
        W = params.W[layer, :2, :] if layer == 0 else params.W[layer]
        u = u @ W + params.b[layer]
        out.append(u)
    return np.stack(out, axis=1)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def make_parser(prog: str = "python -m trajlen.bounds") -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Check Theorems 4–5 (or a conjectured bound) against a results "
                "table: ratios measured/bound, violations, and growth exponents in k, σ_w, depth.",
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("results", nargs="+", help="result store directory(ies) or .parquet/.csv files")
    p.add_argument("--bound", default="auto",
                   help=f"'auto' (per model, from --variant), a registered bound ({', '.join(BOUNDS)}), "
                        "a formula over column names, or module:function")
    p.add_argument("--variant", choices=("paper", "code"), default="paper",
                   help="which family --bound auto uses: the paper's Eqs. 7–9 or the authors' "
                        "commented MATLAB bounds")
    p.add_argument("--sigma", choices=("theorem", "label"), default="theorem",
                   help="σ_w, σ_b of the draws actually made, or sqrt of the figure labels")
    p.add_argument("--zero-recurrent", action="store_true",
                   help="check only rows whose recurrent weights were zero (required by the authors' "
                        "code for its variant; sweep with --recurrence none)")
    p.add_argument("--plot", metavar="DIR", default=None, help="write measured-vs-bound figures here")
    p.add_argument("--plot-format", choices=("png", "pdf"), default="png")
    p.add_argument("--csv", metavar="DIR", default=None,
                   help="write per_config.csv and fits.csv here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from .results import read_results

    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        df = read_results(args.results if len(args.results) > 1 else args.results[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rep = check_bound(df, args.bound, args.variant, args.sigma, args.zero_recurrent)
    except SpecError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    print(format_report(rep))
    if args.csv:
        d = Path(args.csv)
        d.mkdir(parents=True, exist_ok=True)
        rep.per_config.to_csv(d / "per_config.csv", index=False, float_format="%.6g")
        if not rep.fits.empty:
            rep.fits.to_csv(d / "fits.csv", index=False, float_format="%.6g")
        print(f"\ntables: {d / 'per_config.csv'}, {d / 'fits.csv'}")
    if args.plot:
        files = plot_report(rep, args.plot, args.plot_format)
        print("figures: " + (", ".join(map(str, files)) if files else "none (no sweep axis varies)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
