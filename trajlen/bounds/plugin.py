"""Pipeline stage 8 (bounds) — a Python function as a bound: the one explicit way a conjecture runs
code (``--bound-function``). ``--bound`` and :func:`~trajlen.bounds.resolve_bound` never get here."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..spec import SpecError
from .theorems import Bound

__all__ = ["resolve_bound_function"]

_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_NAME = re.compile(r"[A-Za-z_]\w*")


def _one_line(text: object, n: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= n else s[:n - 3] + "..."


@contextmanager
def _without_cwd():
    """``sys.path`` without the current directory (``''``, ``'.'`` or its absolute path) for the
    duration: ``python -m`` and an interactive session put it first, so a module name would otherwise
    find whatever file of that name sits in the directory the user happens to be in."""
    here = os.path.realpath(os.getcwd())
    saved = list(sys.path)
    sys.path[:] = [p for p in saved if p not in ("", ".") and os.path.realpath(p) != here]
    try:
        yield
    finally:
        sys.path[:] = saved


def _import_module(spec: str, mod_name: str):
    if not _MODULE.fullmatch(mod_name):
        raise SpecError(f"bound function {spec!r}: {mod_name!r} is not a module name (pkg.mod) or a "
                        "file path ending in .py")
    try:
        with _without_cwd():
            return importlib.import_module(mod_name)
    except ImportError as e:
        raise SpecError(f"bound function {spec!r}: cannot import module {mod_name!r} (the current "
                        f"directory is not searched; give a file path, e.g. ./{mod_name}.py:fn): "
                        f"{_one_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - the module failing at import is one line, exit 2
        raise SpecError(f"bound function {spec!r}: importing {mod_name!r} raised "
                        f"{type(e).__name__}: {_one_line(e)}") from None


def _import_file(spec: str, path: str):
    p = Path(path).expanduser()
    if not p.is_file():
        raise SpecError(f"bound function {spec!r}: file {path!r} does not exist")
    mod_spec = importlib.util.spec_from_file_location(f"_trajlen_bound_{abs(hash(str(p)))}", p)
    if mod_spec is None or mod_spec.loader is None:
        raise SpecError(f"bound function {spec!r}: cannot load {path!r} as a Python file")
    mod = importlib.util.module_from_spec(mod_spec)
    sys.modules[mod_spec.name] = mod  # what the import system would do (dataclasses look it up)
    try:
        mod_spec.loader.exec_module(mod)
    except Exception as e:  # noqa: BLE001 - the user's file failing is one line, exit 2
        del sys.modules[mod_spec.name]
        raise SpecError(f"bound function {spec!r}: running {path!r} raised {type(e).__name__}: "
                        f"{_one_line(e)}") from None
    return mod


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
    if not isinstance(spec, str) or ":" not in spec:
        raise SpecError(f"bound function {spec!r} must be pkg.mod:function or path/to/file.py:function")
    target, _, func_name = spec.strip().rpartition(":")
    if not _NAME.fullmatch(func_name) or not target:
        raise SpecError(f"bound function {spec!r} must be pkg.mod:function or "
                        "path/to/file.py:function")
    if target.endswith(".py") or os.sep in target or "/" in target:
        mod = _import_file(spec, target)
    else:
        mod = _import_module(spec, target)
    func = getattr(mod, func_name, None)
    if not callable(func):
        raise SpecError(f"bound function {spec!r}: {target!r} has no function {func_name!r}")
    _check_signature(spec, func, names)
    return Bound(spec, _guarded(spec, func), f"user function {spec} (runs code)", "user")
