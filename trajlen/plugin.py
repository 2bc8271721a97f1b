"""Running the user's code, explicitly: the one loader behind every flag that names a Python object
(``--bound-function`` of ``python -m trajlen.bounds``, ``--module`` of ``python -m trajlen.sweep``).

A spec is ``pkg.mod:name`` — ``pkg.mod`` imported from ``sys.path`` **without the current directory**
(``python -m`` and an interactive session put it first, so a module name would otherwise find whatever
file of that name sits where the user happens to be) — or ``path/to/file.py:name``, an explicit file
executed as a module. Every failure is a one-line :class:`~trajlen.spec.SpecError` naming the spec.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from .spec import SpecError

__all__ = ["load_object", "split_spec", "without_cwd", "one_line"]

_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_NAME = re.compile(r"[A-Za-z_]\w*")


def one_line(text: object, n: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= n else s[:n - 3] + "..."


@contextmanager
def without_cwd() -> Iterator[None]:
    """``sys.path`` without the current directory (``''``, ``'.'`` or its absolute path) for the
    duration (module docstring)."""
    here = os.path.realpath(os.getcwd())
    saved = list(sys.path)
    sys.path[:] = [p for p in saved if p not in ("", ".") and os.path.realpath(p) != here]
    try:
        yield
    finally:
        sys.path[:] = saved


def split_spec(spec: Any, what: str, form: str = "function") -> tuple[str, str, bool]:
    """``(target, name, is_file)`` of ``pkg.mod:name`` or ``path/to/file.py:name``."""
    usage = f"{what} {spec!r} must be pkg.mod:{form} or path/to/file.py:{form}"
    if not isinstance(spec, str) or ":" not in spec:
        raise SpecError(usage)
    target, _, name = spec.strip().rpartition(":")
    if not _NAME.fullmatch(name) or not target:
        raise SpecError(usage)
    return target, name, target.endswith(".py") or os.sep in target or "/" in target


def _import_module(spec: str, mod_name: str, what: str) -> ModuleType:
    if not _MODULE.fullmatch(mod_name):
        raise SpecError(f"{what} {spec!r}: {mod_name!r} is not a module name (pkg.mod) or a file path "
                        "ending in .py")
    try:
        with without_cwd():
            return importlib.import_module(mod_name)
    except ImportError as e:
        raise SpecError(f"{what} {spec!r}: cannot import module {mod_name!r} (the current directory is "
                        f"not searched; give a file path, e.g. ./{mod_name}.py:fn): {one_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - the module failing at import is one line, exit 2
        raise SpecError(f"{what} {spec!r}: importing {mod_name!r} raised {type(e).__name__}: "
                        f"{one_line(e)}") from None


def _import_file(spec: str, path: str, what: str) -> ModuleType:
    p = Path(path).expanduser()
    if not p.is_file():
        raise SpecError(f"{what} {spec!r}: file {path!r} does not exist")
    name = f"_trajlen_user_{abs(hash(str(p)))}"
    mod_spec = importlib.util.spec_from_file_location(name, p)
    if mod_spec is None or mod_spec.loader is None:
        raise SpecError(f"{what} {spec!r}: cannot load {path!r} as a Python file")
    mod = importlib.util.module_from_spec(mod_spec)
    sys.modules[name] = mod  # what the import system would do (dataclasses look it up)
    try:
        mod_spec.loader.exec_module(mod)
    except Exception as e:  # noqa: BLE001 - the user's file failing is one line, exit 2
        del sys.modules[name]
        raise SpecError(f"{what} {spec!r}: running {path!r} raised {type(e).__name__}: "
                        f"{one_line(e)}") from None
    return mod


def load_object(spec: str, what: str, form: str = "function") -> Any:
    """The object a spec names — **this imports and runs code** (module docstring). ``what`` names
    the flag's object in errors (e.g. ``"bound function"``)."""
    target, name, is_file = split_spec(spec, what, form)
    mod = _import_file(spec, target, what) if is_file else _import_module(spec, target, what)
    obj = getattr(mod, name, None)
    if obj is None:
        raise SpecError(f"{what} {spec!r}: {target!r} has no {form} {name!r}")
    return obj
