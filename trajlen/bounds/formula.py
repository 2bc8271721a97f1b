"""Pipeline stage 8 (bounds) — conjectures as data: a safe formula evaluator (an AST whitelist, never
``eval``), and the resolution of a ``--bound`` value to a registered bound or a formula.

A ``--bound`` value never imports or runs code. A Python function as a bound is a separate, explicit
opt-in: :func:`trajlen.bounds.plugin.resolve_bound_function` (``--bound-function``)."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..spec import SpecError
from .theorems import BOUNDS, Bound

__all__ = ["FormulaError", "Formula", "FORMULA_FUNCTIONS", "FORMULA_ARITY", "compile_formula",
           "resolve_bound"]


class FormulaError(SpecError):
    """A bound formula that is malformed, unsafe, names an unknown column, or fails to evaluate."""


def _erf(x):
    from scipy.special import erf  # scipy import kept lazy

    return erf(x)


def _unary(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # exactly one parameter: a raw ufunc would take a second positional argument as ``out=`` and
    # write the result into a column array mid-evaluation (``sqrt(k, k)``)
    def g(x):
        return f(x)
    g.__name__ = getattr(f, "__name__", "f")
    return g


def _nary(f2: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def g(*args):
        out = args[0]
        for a in args[1:]:
            out = f2(out, a)
        return out
    return g


_UNARY = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log2": np.log2, "log10": np.log10,
          "abs": np.abs, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh,
          "arctan": np.arctan, "floor": np.floor, "ceil": np.ceil, "sign": np.sign, "erf": _erf}
#: Functions a formula may call (elementwise on numpy arrays, positional arguments only).
FORMULA_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **{name: _unary(f) for name, f in _UNARY.items()},
    "min": _nary(np.minimum), "max": _nary(np.maximum),
}
#: Number of arguments each function takes: an int is exact, ``(2, None)`` means at least 2.
FORMULA_ARITY: dict[str, int | tuple[int, None]] = {
    **{name: 1 for name in _UNARY}, "min": (2, None), "max": (2, None)}
FORMULA_MAX_CHARS = 1000
FORMULA_MAX_NODES = 300
FORMULA_MAX_EXPONENT = 1000.0
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
           ast.Pow: np.power}
_UNOPS = {ast.USub: np.negative, ast.UAdd: np.positive}


def _one_line(text: str, n: int = 200) -> str:
    return _short(" ".join(str(text).split()), n)


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def _reject(what: str, text: str) -> FormulaError:
    return FormulaError(f"bound formula {_short(text)!r}: {what}")


@dataclass(frozen=True)
class Formula:
    """A parsed, validated bound formula. Call it with a mapping of column arrays (one entry per row).

    Evaluation reads private float64 copies of the columns it names, so the caller's arrays are never
    written, and returns a new float64 array of the rows' shape. Any failure is a one-line
    :class:`FormulaError`.
    """

    text: str
    tree: ast.Expression
    names: tuple[str, ...]

    @property
    def __name__(self) -> str:  # for messages
        return self.text

    def __call__(self, cols: Mapping[str, Any]) -> np.ndarray:
        try:
            shape = np.shape(next(iter(cols.values()))) if cols else ()
            own = {n: np.array(cols[n], dtype=np.float64, copy=True) for n in self.names}
            with np.errstate(all="ignore"):
                out = np.asarray(self._eval(self.tree.body, own), dtype=np.float64)
            return np.array(np.broadcast_to(out, shape), dtype=np.float64, copy=True)
        except FormulaError:
            raise
        except Exception as e:  # noqa: BLE001 - whatever numpy raises, the user gets one line
            raise _reject(f"evaluation failed: {type(e).__name__}: {_one_line(e)}", self.text) \
                from None

    def _eval(self, node: ast.AST, cols: Mapping[str, np.ndarray]):
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


def _too_big(v: int | float, limit: float) -> bool:
    try:
        return not math.isfinite(float(v)) or abs(float(v)) > limit
    except OverflowError:  # an int literal beyond float range
        return True


def _check_constant(node: ast.Constant, text: str) -> None:
    v = node.value
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _reject(f"only numeric literals are allowed, got {_short(repr(v), 20)}", text)
    if _too_big(v, 1e300):
        raise _reject(f"numeric literal {_short(str(v), 20)} is out of range", text)


def _check_pow(node: ast.BinOp, text: str) -> None:
    e = node.right
    if isinstance(e, ast.UnaryOp) and isinstance(e.operand, ast.Constant):
        e = e.operand
    if isinstance(e, ast.Constant) and isinstance(e.value, (int, float)) \
            and not isinstance(e.value, bool) and _too_big(e.value, FORMULA_MAX_EXPONENT):
        raise _reject(f"exponent {_short(repr(e.value), 20)} is too large (at most "
                      f"{FORMULA_MAX_EXPONENT:g} in absolute value)", text)
    if isinstance(node.right, ast.BinOp) and isinstance(node.right.op, ast.Pow) \
            and isinstance(node.left, ast.Constant):
        raise _reject("a literal power tower (a ** b ** c) is not allowed", text)


def _check_call(node: ast.Call, text: str) -> None:
    functions = ", ".join(sorted(FORMULA_FUNCTIONS))
    if not isinstance(node.func, ast.Name) or node.func.id not in FORMULA_FUNCTIONS:
        raise _reject(f"call of {_short(ast.unparse(node.func), 40)!r} is not allowed; functions: "
                      f"{functions}", text)
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise _reject("keyword or starred arguments are not allowed", text)
    name, arity, got = node.func.id, FORMULA_ARITY[node.func.id], len(node.args)
    if isinstance(arity, int) and got != arity:
        raise _reject(f"{name} takes {arity} argument{'s' * (arity != 1)}, got {got}", text)
    if isinstance(arity, tuple) and got < arity[0]:
        raise _reject(f"{name} takes at least {arity[0]} arguments, got {got}", text)


_FORBIDDEN = {ast.Attribute: "attribute access ('.') is not allowed",
              ast.Subscript: "subscripts ('[...]') are not allowed", ast.Lambda: "lambda is not allowed",
              ast.ListComp: "comprehensions are not allowed", ast.SetComp: "comprehensions are not allowed",
              ast.DictComp: "comprehensions are not allowed",
              ast.GeneratorExp: "comprehensions are not allowed"}


def _check_node(node: ast.AST, text: str, valid: set[str], listing: str) -> None:
    """Raise :class:`FormulaError` unless ``node`` is one of the few allowed kinds."""
    if isinstance(node, (ast.Expression, ast.Load)) or type(node) in _BINOPS or type(node) in _UNOPS:
        return
    if isinstance(node, ast.Constant):
        _check_constant(node, text)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise _reject(f"operator {type(node.op).__name__} is not allowed (only + - * / **)", text)
        if isinstance(node.op, ast.Pow):
            _check_pow(node, text)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNOPS:
            raise _reject(f"operator {type(node.op).__name__} is not allowed", text)
    elif isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise _reject(f"name {_short(node.id, 40)!r} is not allowed (dunder names are never "
                          "evaluated)", text)
        if node.id not in valid and node.id not in FORMULA_FUNCTIONS:
            raise FormulaError(f"unknown name {_short(node.id, 40)!r} in bound formula "
                               f"{_short(text)!r}; {listing}")
    elif isinstance(node, ast.Call):
        _check_call(node, text)
    elif type(node) in _FORBIDDEN:
        raise _reject(_FORBIDDEN[type(node)], text)
    else:
        raise _reject(f"{type(node).__name__} is not allowed (only numbers, column names, "
                      "+ - * / **, parentheses and whitelisted functions)", text)


def compile_formula(text: str, names: Sequence[str] | Mapping[str, Any]) -> Formula:
    """Parse and validate a bound formula over column ``names``.

    Parameters
    ----------
    text : the formula, e.g. ``"sqrt(k) * exp(0.3 * depth)"``.
    names : the column names it may use (a mapping's keys).

    Returns
    -------
    Formula : callable on a mapping of column arrays.

    Notes
    -----
    Allowed: numeric literals, the named columns, ``+ - * / **``, unary ``-``/``+``, parentheses and
    calls of :data:`FORMULA_FUNCTIONS` with positional arguments, each with its fixed number of
    arguments (:data:`FORMULA_ARITY`: one for every function but ``min``/``max``, which take two or
    more). Everything else — attribute access, subscripts, lambdas, comprehensions, keyword arguments,
    strings, dunder names, calls of anything not whitelisted, literal exponents above
    :data:`FORMULA_MAX_EXPONENT`, formulas over :data:`FORMULA_MAX_CHARS` characters or
    :data:`FORMULA_MAX_NODES` nodes — raises :class:`FormulaError`. Nothing is ever passed to
    ``eval``: the tree is walked by :class:`Formula`.
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
        where = f" (column {e.offset})" if e.offset else ""
        raise FormulaError(f"malformed bound formula {_short(text)!r}: {_one_line(e.msg, 80)}"
                           f"{where}; {listing}") from None
    except (ValueError, RecursionError, MemoryError) as e:  # null bytes, absurd nesting
        raise FormulaError(f"malformed bound formula {_short(text)!r}: {type(e).__name__}") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > FORMULA_MAX_NODES:
        raise _reject(f"too complex ({len(nodes)} syntax nodes, at most {FORMULA_MAX_NODES})", text)
    for node in nodes:
        _check_node(node, text, valid, listing)
    # a function name used as a value (not called) is an error too
    called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    for node in nodes:
        if isinstance(node, ast.Name) and node.id in FORMULA_FUNCTIONS and node.id not in valid \
                and id(node) not in called:
            raise _reject(f"{node.id!r} is a function; call it, e.g. {node.id}(x)", text)
    used = [n.id for n in nodes if isinstance(n, ast.Name) and n.id in valid and id(n) not in called]
    return Formula(text, tree, tuple(dict.fromkeys(used)))


_MODULE_FUNC = re.compile(r"^\s*[\w./\\-]+:\w+\s*$")


def resolve_bound(spec: str, names: Sequence[str] | Mapping[str, Any]) -> Bound:
    """A bound from its registry name or a formula over ``names``; never imports anything.

    Parameters
    ----------
    spec : a name in :data:`~trajlen.bounds.BOUNDS` or a formula (see :func:`compile_formula`).
    names : the column names a formula may use.

    Raises
    ------
    FormulaError : an unknown name, a malformed or unsafe formula, or a ``module:function`` value
        (a Python function is opted into with :func:`~trajlen.bounds.resolve_bound_function`).
    """
    if not isinstance(spec, str):
        raise FormulaError(f"bound must be a string, got {type(spec).__name__}")
    if spec in BOUNDS:
        return BOUNDS[spec]
    if _MODULE_FUNC.match(spec):
        raise FormulaError(f"bound {_short(spec)!r} looks like module:function; --bound takes a "
                           "registered bound or a formula only and never runs code — to call a Python "
                           "function use --bound-function (library: bound_function=)")
    if re.fullmatch(r"[A-Za-z_]\w*", spec.strip()) and spec.strip() not in names:
        raise FormulaError(f"unknown bound {_short(spec)!r}; registered bounds: {', '.join(BOUNDS)}, "
                           f"or 'auto', or a formula over: {', '.join(sorted(names))}")
    return Bound(spec, compile_formula(spec, names), "user formula", "user")
