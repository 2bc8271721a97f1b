"""The array namespace (numpy or torch) of an array, for code written once for both backends.

numpy and torch share the names this project's equations use (sin, cos, exp, tanh, abs, sign,
floor, clip, where, stack, concat, all/any with ``axis=``/``keepdims=``, ``swapaxes``). We do not
use ``array_api_compat.array_namespace`` here: its wrappers cost ~10 µs per call at batch size 1,
which made the scipy path's right-hand side ~20× slower than the plain numpy expression.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


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
