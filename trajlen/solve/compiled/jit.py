"""The compiled backend's compiler settings: an on-disk cache that follows the sources, numpy's error
model, and the dispatch from an activation or model *code* to that registry entry's own functions.

The selectors (:func:`phi_of`, :func:`leak_drive_of`, …) are numba overloads that look the functions
up in the registry while the kernel is typed: with a run-time code (what the field passes, so one
compiled kernel serves every network) they compile to an if-chain over every entry; with a literal
constant, to that one entry's rule. Either way a new activation or model needs no kernel edit — one
file plus one registry line. (One kernel per literal (model, activation) pair compiled slower for a
job that mixes them: BENCHMARKS.md, "Kernel compile time".)
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from pathlib import Path

import numba
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload

from ...activations import ACTIVATIONS
from ...models import MODULES as MODEL_MODULES

__all__ = ["njit", "CACHE", "ACTIVATION_CODES", "MODEL_CODES", "is_cached", "phi_of", "dphi_of",
           "all_up_of", "all_down_of", "is_layerwise_of", "leak_drive_of", "partials_of"]

_ROOT = Path(__file__).resolve().parents[2]
_ACTS = list(ACTIVATIONS.values())
ACTIVATION_CODES = {a.name: a.code for a in _ACTS}
MODEL_CODES = {m.NAME: i for i, m in enumerate(MODEL_MODULES)}


def _cache_dir() -> Path:
    """Where compiled kernels are cached: a folder named after a hash of every source file the kernel
    compiles in, because numba's own cache only watches the file of the function it caches and would
    otherwise reuse a kernel built from an old ``ltc.py``."""
    files = [_ROOT / "_xp.py", _ROOT / "inputs.py", _ROOT / "solve" / "controllers.py",
             _ROOT / "solve" / "output.py", *sorted((_ROOT / "activations").glob("*.py")),
             *sorted((_ROOT / "models").glob("*.py")), *sorted(Path(__file__).parent.glob("*.py"))]
    h = hashlib.sha256(numba.__version__.encode())
    for f in files:
        h.update(f.read_bytes())
    base = os.environ.get("TRAJLEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "trajlen")
    return Path(base) / "numba" / h.hexdigest()[:16]


CACHE = _cache_dir()


@contextlib.contextmanager
def _numba_cache_dir(path: Path):
    old = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(path)
    try:
        yield
    finally:
        numba.config.CACHE_DIR = old


def njit(fn=None, signature=None, *, entry: bool = False, **options):
    """``numba.njit`` with numpy's error model. An ``entry`` point (a function Python calls: the
    kernels' loops, ``rhs``, ``jac_diag``) is cached on disk in :data:`CACHE` (in memory without a
    writable cache folder); the functions it calls are not, because their code is linked into every
    entry point's own cache entry and caching each of them again cost 13 % of the kernel's compile
    (BENCHMARKS.md). ``signature`` compiles eagerly (first-class functions)."""
    if fn is None:
        return lambda f: njit(f, signature, entry=entry, **options)
    options.setdefault("error_model", "numpy")
    args = (signature,) if signature is not None else ()
    if not entry:
        return numba.njit(*args, **options)(fn)
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        with _numba_cache_dir(CACHE):
            return numba.njit(*args, cache=True, **options)(fn)
    except (OSError, RuntimeError):
        return numba.njit(*args, **options)(fn)


def is_cached(function: str) -> bool:
    """Has ``function`` (its dotted name, e.g. ``trajlen.solve.compiled.explicit.explicit_run``) been
    compiled into this machine's cache? numba names a cache index ``<module>.<function>-<line>.*.nbi``
    in a subfolder of :data:`CACHE` per source folder."""
    module, name = function.split(".")[-2:]
    return CACHE.is_dir() and any(CACHE.rglob(f"{module}.{name}-*.nbi"))


def _literal(code, what: str) -> int:
    if not isinstance(code, types.IntegerLiteral):
        raise TypingError(f"the {what} code must be a compile-time constant")
    return code.literal_value


_N = {"activation": len(_ACTS), "model": len(MODEL_MODULES)}


def _generate(name: str, arity: int, body: list[str], scope: dict):
    """A function ``name(code, a0, …)`` with the given body lines, from generated source (numba needs
    every callee named statically, and fixed-arity functions type faster than ``*args``)."""
    args = ", ".join(f"a{i}" for i in range(arity))
    exec("\n".join([f"def {name}(code, {args}):", *body]), scope)  # noqa: S102 - from the registry
    return scope[name]


def _selector(name: str, what: str, pick, arity: int):
    """``name(code, a0, …)`` whose calls compile to ``pick(code)(a0, …)``: an if-chain over every
    entry of the registry (only the one entry where ``code`` is a compile-time constant)."""
    args = ", ".join(f"a{i}" for i in range(arity))
    stub = _generate(name, arity, [f"    raise NotImplementedError('{name} runs in compiled code')"], {})

    def implement(code):
        if isinstance(code, types.IntegerLiteral):
            return _generate("impl", arity, [f"    return F0({args})"],
                             {"F0": pick(code.literal_value)})
        n = _N[what]
        body = [f"    if code == {i}:\n        return F{i}({args})" for i in range(1, n)]
        return _generate("impl", arity, [*body, f"    return F0({args})"],
                         {f"F{i}": pick(i) for i in range(n)})

    typing = _generate("typing", arity, ["    return implement(code)"], {"implement": implement})
    overload(stub)(typing)
    return stub


phi_of = _selector("phi_of", "activation", lambda c: _ACTS[c].phi, 2)
dphi_of = _selector("dphi_of", "activation", lambda c: _ACTS[c].dphi, 2)
all_up_of = _selector("all_up_of", "activation",
                      lambda c: _all(getattr(_ACTS[c].module, "up", None)), 1)
all_down_of = _selector("all_down_of", "activation",
                        lambda c: _all(getattr(_ACTS[c].module, "down", None)), 1)
leak_drive_of = _selector("leak_drive_of", "model", lambda c: MODEL_MODULES[c].leak_drive, 4)
partials_of = _selector("partials_of", "model", lambda c: MODEL_MODULES[c].partials, 4)


def is_layerwise_of(code):
    raise NotImplementedError


_LAYERWISE = tuple(a.layerwise for a in _ACTS)


@overload(is_layerwise_of)
def _is_layerwise(code):
    if isinstance(code, types.IntegerLiteral):
        flag = _LAYERWISE[code.literal_value]
        return lambda code: flag
    return lambda code: _LAYERWISE[code]


@functools.cache
def _all(pred):
    """``p (k,) ↦ all(pred(p_j))`` (False for an elementwise activation, which has no ``pred``)."""
    if pred is None:
        return _none

    @numba.extending.register_jitable
    def every(p):
        out = True
        for j in range(p.shape[0]):
            out = out and pred(p[j])
        return out

    return every


@numba.extending.register_jitable
def _none(p):
    return False
