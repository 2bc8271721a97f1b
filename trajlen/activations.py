"""Pipeline stage 2 (vector field) — activations φ and their derivatives, for numpy and torch alike.

Every function takes pre-activations ``p`` of shape ``(..., k)`` (the last axis is the layer) and is
written against the array-API namespace of its argument, so the numpy (scipy) path and the torch
(batched) path share one definition.
"""

from __future__ import annotations

from collections.abc import Callable

from ._xp import namespace as array_namespace
from ._xp import sigmoid as _logistic

__all__ = ["ACTIVATIONS", "activation", "derivative"]


def _tanh(p):
    return array_namespace(p).tanh(p)


def _dtanh(p):
    xp = array_namespace(p)
    return 1.0 - xp.tanh(p) ** 2


def _sigmoid(p):
    return _logistic(p)


def _dsigmoid(p):
    s = _sigmoid(p)
    return s * (1.0 - s)


def _relu(p):
    return p.clip(min=0.0)


def _drelu(p):
    return 1.0 * (p > 0)


def _hardtanh(p):
    return p.clip(-1.0, 1.0)


def _dhardtanh(p):
    return 1.0 * (array_namespace(p).abs(p) < 1.0)


def _matlab_masks(p):
    xp = array_namespace(p)
    hi = xp.all(p >= 1.0, axis=-1, keepdims=True)
    lo = xp.all(p <= -1.0, axis=-1, keepdims=True)
    return xp, hi, lo


def _hardtanh_matlab(p):
    """MATLAB ``Htanh.m`` applied to a whole layer: ``if x>=1`` is true only if *every* unit is ≥ 1.

    So the layer is all ones if every unit is ≥ 1, all −1 if every unit is ≤ −1, else unchanged.
    """
    xp, hi, lo = _matlab_masks(p)
    return xp.where(hi, 1.0 + 0.0 * p, xp.where(lo, -1.0 + 0.0 * p, p))


def _dhardtanh_matlab(p):
    xp, hi, lo = _matlab_masks(p)
    return 1.0 - 1.0 * (hi | lo) + 0.0 * p


#: name -> (φ, φ'); φ' is the derivative almost everywhere (relu, hardtanh kinks).
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "tanh": (_tanh, _dtanh),
    "sigmoid": (_sigmoid, _dsigmoid),
    "relu": (_relu, _drelu),
    "hardtanh": (_hardtanh, _dhardtanh),
    "hardtanh_matlab": (_hardtanh_matlab, _dhardtanh_matlab),
}


def activation(name: str) -> Callable:
    """φ for an activation name (see :data:`ACTIVATIONS`)."""
    return ACTIVATIONS[name][0]


def derivative(name: str) -> Callable:
    """φ' (almost everywhere) for an activation name."""
    return ACTIVATIONS[name][1]
