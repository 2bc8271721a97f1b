"""Pipeline stage 8 (bounds) — conjectures: a safe formula evaluator (an AST whitelist, never ``eval``),
and the resolution of a ``--bound`` value to a registered bound, a formula or a user function."""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..spec import SpecError
from .theorems import BOUNDS, Bound

__all__ = ["FormulaError", "Formula", "FORMULA_FUNCTIONS", "compile_formula", "resolve_bound"]

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
