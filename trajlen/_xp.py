"""The array namespace (numpy or torch) of an array, for code written once for both backends.

numpy and torch share the names this project's equations use (sin, cos, exp, tanh, abs, sign,
floor, clip, where, stack, concat, all/any with ``axis=``/``keepdims=``, ``swapaxes``). We do not
use ``array_api_compat.array_namespace`` here: its wrappers cost ~10 µs per call at batch size 1,
which made the scipy path's right-hand side ~20× slower than the plain numpy expression.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


def jitable(fn):
    """Mark ``fn`` (written with operators and builtins only) as callable from numba-compiled code too.

    The compiled CPU solver (:mod:`trajlen.solve.compiled`) calls the models' ``leak_drive`` through
    this, so each model's equations stay written once for numpy, torch and the compiled kernel.
    Without numba installed it is the identity.
    """
    try:
        from numba.extending import register_jitable
    except ImportError:  # pragma: no cover - numba is a dependency; keep the numpy/torch paths usable
        return fn
    return register_jitable(fn)


def namespace(x) -> ModuleType:
    """``numpy`` for numpy arrays/scalars, ``torch`` for torch tensors."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch
    return np


def sigmoid(p):
    """Logistic function, overflow-free in both namespaces."""
    if namespace(p) is np:
        from scipy.special import expit

        return expit(p)
    import torch

    return torch.sigmoid(p)
