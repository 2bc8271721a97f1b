"""The dialect every shared rule of trajlen is written in: operators, builtins and the few primitives
below, so that one definition runs on numpy arrays (the scipy backend), torch tensors (the batched
backend) and scalars inside numba-compiled code (the compiled kernel).

A rule written with these — an activation, a model's ``leak_drive``, a step-size rule, the circle
input — is decorated :func:`jitable` and is then callable from all three. The numba kernel calls the
rules on *scalars*, one element at a time inside its own loops, so nothing is allocated per call; numpy
and torch call them on whole arrays. Each primitive is implemented once per array type (numpy, torch,
and a numba overload), with the same value in each: ``where(c, a, b)`` (no NaN surprises, unlike
``min``/``max``), ``minimum``/``maximum``, ``tanh``, ``exp``, ``logistic``, ``floor``, ``to_index``,
``next_up``. Builtin ``abs`` works on all three (numba gets an array overload in the compiled backend).

We do not use ``array_api_compat.array_namespace``: its wrappers cost ~10 µs per call at batch size 1,
which made the scipy path's right-hand side ~20× slower than the plain numpy expression.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

__all__ = ["jitable", "namespace", "where", "minimum", "maximum", "tanh", "exp", "logistic", "floor",
           "to_index", "next_up", "sin_cos", "logical_not", "erf", "power"]


def jitable(fn):
    """Mark ``fn`` (written with operators, builtins and this module's primitives) as callable from
    numba-compiled code too. Without numba installed it is the identity."""
    try:
        from numba.extending import register_jitable
    except ImportError:  # pragma: no cover - the numpy and torch paths need no numba
        return fn
    # numpy's error model: a rule may divide by zero in a where-branch it does not take (IEEE inf,
    # not Python's ZeroDivisionError)
    return register_jitable(error_model="numpy")(fn)


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def namespace(x) -> ModuleType:
    """``numpy`` for numpy arrays/scalars, ``torch`` for torch tensors."""
    if _is_torch(x):
        import torch

        return torch
    return np


def where(c, a, b):
    """``a`` where ``c`` else ``b``, elementwise (scalars broadcast)."""
    if _is_torch(c):
        import torch

        return torch.where(c, a, b)
    if isinstance(c, (bool, np.bool_)):
        return a if c else b
    return np.where(c, a, b)


def minimum(a, b):
    """Elementwise minimum; NaN propagates (np.minimum / torch.minimum)."""
    if _is_torch(a) or _is_torch(b):
        import torch

        if not _is_torch(b):
            return torch.clamp(a, max=b)
        if not _is_torch(a):
            return torch.clamp(b, max=a)
        return torch.minimum(a, b)
    return np.minimum(a, b)


def maximum(a, b):
    """Elementwise maximum; NaN propagates (np.maximum / torch.maximum)."""
    if _is_torch(a) or _is_torch(b):
        import torch

        if not _is_torch(b):
            return torch.clamp(a, min=b)
        if not _is_torch(a):
            return torch.clamp(b, min=a)
        return torch.maximum(a, b)
    return np.maximum(a, b)


def tanh(x):
    return x.tanh() if _is_torch(x) else np.tanh(x)


def exp(x):
    return x.exp() if _is_torch(x) else np.exp(x)


def logistic(x):
    """``1 / (1 + e^{−x})``, overflow-free: ``scipy.special.expit`` on numpy; the plain formula on
    torch tensors and in compiled code (IEEE gives 0 for e^{−x} = inf, no overflow trap). Not
    ``torch.sigmoid``: on the CPU its vectorised kernel and its scalar remainder round differently,
    so a network's values would depend on its position in the batch (``exp`` does not)."""
    if _is_torch(x):
        return 1.0 / (1.0 + (-x).exp())
    from scipy.special import expit

    return expit(x)


def erf(x):
    """The error function (``scipy.special.erf`` / ``torch.erf``; ``math.erf`` in compiled code)."""
    if _is_torch(x):
        return x.erf()
    from scipy.special import erf as _erf

    return _erf(x)


def power(x, e):
    """``x ** e`` for a float exponent ``e``. On CPU torch tensors through numpy's ``pow`` (the
    C library's, as scipy's and Python's ``**``): torch's vectorised ``pow`` and its scalar remainder
    round differently, which made a network's step sizes depend on its position in the batch."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # IEEE inf/NaN are meant
        if _is_torch(x) and x.device.type == "cpu":
            import torch

            return torch.from_numpy(np.power(x.numpy(), e))
        return x ** e


def sin_cos(x):
    """``(sin x, cos x)``."""
    if _is_torch(x):
        return x.sin(), x.cos()
    return np.sin(x), np.cos(x)


def floor(x):
    return x.floor() if _is_torch(x) else np.floor(x)


def to_index(x):
    """An integer index (array) from a floored value, for table lookups."""
    if _is_torch(x):
        return x.long()
    if isinstance(x, np.ndarray):
        return x.astype(np.int64)
    return int(x)


def next_up(a):
    """The next larger float after ``a`` (``nextafter(a, +inf)``)."""
    if _is_torch(a):
        import torch

        return torch.nextafter(a, torch.full_like(a, math.inf))
    return np.nextafter(a, np.inf)


def logical_not(c):
    if _is_torch(c):
        return ~c
    return np.logical_not(c)


def sigmoid(p):  # kept for callers of the old name
    return logistic(p)


def _register_numba_overloads() -> None:
    """The primitives inside numba-compiled code: scalar versions (what the kernel's element loops
    call) and array versions."""
    try:
        from numba import types
        from numba.extending import overload
    except ImportError:  # pragma: no cover
        return

    def scalar(t) -> bool:
        return isinstance(t, (types.Number, types.Boolean))

    @overload(where)
    def _where(c, a, b):
        if scalar(c):
            return lambda c, a, b: a if c else b
        return lambda c, a, b: np.where(c, a, b)

    @overload(minimum)
    def _minimum(a, b):
        if scalar(a) and scalar(b):
            return lambda a, b: b if b < a else a
        return lambda a, b: np.minimum(a, b)

    @overload(maximum)
    def _maximum(a, b):
        if scalar(a) and scalar(b):
            return lambda a, b: b if b > a else a
        return lambda a, b: np.maximum(a, b)

    @overload(tanh)
    def _tanh(x):
        if scalar(x):
            return lambda x: math.tanh(x)
        return lambda x: np.tanh(x)

    @overload(exp)
    def _exp(x):
        if scalar(x):
            return lambda x: math.exp(x)
        return lambda x: np.exp(x)

    @overload(logistic)
    def _logistic(x):
        return lambda x: 1.0 / (1.0 + np.exp(-x))

    @overload(erf)
    def _erf(x):
        if scalar(x):
            return lambda x: math.erf(x)
        return None

    @overload(sin_cos)
    def _sin_cos(x):
        if scalar(x):
            return lambda x: (math.sin(x), math.cos(x))
        return lambda x: (np.sin(x), np.cos(x))

    @overload(floor)
    def _floor(x):
        if scalar(x):
            return lambda x: math.floor(x)
        return lambda x: np.floor(x)

    @overload(to_index)
    def _to_index(x):
        if scalar(x):
            return lambda x: int(x)
        return lambda x: x.astype(np.int64)

    @overload(power)
    def _power(x, e):
        return lambda x, e: x ** e

    @overload(logical_not)
    def _logical_not(c):
        if scalar(c):
            return lambda c: not c
        return lambda c: np.logical_not(c)

    @overload(next_up)
    def _next_up(a):
        return lambda a: np.nextafter(a, np.inf)

    @overload(abs)
    def _abs_array(v):
        # builtin abs on arrays (numba has it for scalars only), so a rule's abs(f) compiles as written
        if isinstance(v, types.Array):
            return lambda v: np.abs(v)
        return None


_register_numba_overloads()
