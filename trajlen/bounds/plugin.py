"""Pipeline stage 8 (bounds) — a Python function as a bound: the one explicit way a conjecture runs
code (``--bound-function``, loaded by :mod:`trajlen.plugin`, the loader ``--module`` uses too).
``--bound`` and :func:`~trajlen.bounds.resolve_bound` never get here."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..plugin import load_object
from ..plugin import one_line as _one_line
from ..spec import SpecError
from .theorems import Bound

__all__ = ["resolve_bound_function"]


def _check_signature(spec: str, func: Callable[..., Any], names) -> None:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        raise SpecError(f"bound function {spec!r}: cannot read its parameters; it must be a Python "
                        "function whose parameter names are column names") from None
    for p in params.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise SpecError(f"bound function {spec!r}: parameter {p.name!r} is {p.kind.description};"
                            " every parameter must be a column name passed by keyword")
    bad = [p for p, v in params.items() if p not in names and v.default is inspect.Parameter.empty]
    if bad:
        raise SpecError(f"bound function {spec!r}: parameter(s) {', '.join(bad)} are not columns; "
                        f"valid names: {', '.join(sorted(names))}")


def _guarded(spec: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)  # keeps the signature: evaluate_bound passes columns by parameter name
    def call(**cols):
        try:
            return func(**cols)
        except SpecError:
            raise
        except Exception as e:  # noqa: BLE001 - a user function's failure is one line, exit 2
            raise SpecError(f"bound function {spec!r} raised {type(e).__name__}: "
                            f"{_one_line(e)}") from None
    return call


def resolve_bound_function(spec: str, names: Sequence[str] | Mapping[str, Any]) -> Bound:
    """A bound computed by a Python function — **this imports and runs code**.

    Parameters
    ----------
    spec : ``"pkg.mod:fn"`` — ``pkg.mod`` is imported from ``sys.path`` with the current directory
        removed (a module in the directory you are in is never picked up by accident) — or
        ``"path/to/file.py:fn"``, an explicit file, executed as a module. ``fn``'s parameter names
        are column names (see :func:`~trajlen.bounds.theorem_columns`); it is called with those
        columns as float64 arrays, by keyword, and returns one value per row (or a scalar).
    names : the column names ``fn`` may take.

    Returns
    -------
    Bound : with variant ``"user"``; a failure inside ``fn`` becomes a one-line :class:`SpecError`.

    Raises
    ------
    SpecError : a malformed ``spec``, a module that cannot be imported, a missing file or function,
        or a parameter that is not a column.
    """
    func = load_object(spec, "bound function")
    if not callable(func):
        target, _, func_name = spec.strip().rpartition(":")
        raise SpecError(f"bound function {spec!r}: {target!r} has no function {func_name!r}")
    _check_signature(spec, func, names)
    return Bound(spec, _guarded(spec, func), f"user function {spec} (runs code)", "user")
