"""Pipeline stage 2 (vector field) — activations φ and their derivatives φ', one file each.

Every activation module defines ``NAME``, ``phi(p, sat)`` and ``dphi(p, sat)`` (elementwise, written in
the :mod:`trajlen._xp` dialect, so numpy, torch and the compiled kernel run the same definition),
``KINKS`` (the points where φ or φ' jumps, for Gaussian quadrature in :mod:`trajlen.theory`) and,
for an activation of the whole layer such as MATLAB's ``Htanh``, ``LAYERWISE = True`` with ``up(p)`` /
``down(p)``: the layer's saturation ``sat`` is +1 when every unit is ``up``, −1 when every unit is
``down``, else 0 (elementwise activations ignore ``sat``). φ' is the derivative almost everywhere.

Adding an activation: one module here and one entry in :data:`MODULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from .._xp import namespace
from . import hardtanh, hardtanh_matlab, relu, sigmoid, tanh

__all__ = ["Activation", "ACTIVATIONS", "MODULES", "activation", "derivative", "saturation"]

#: The registry, in code order (the compiled kernel dispatches on the position).
MODULES: tuple[ModuleType, ...] = (tanh, sigmoid, relu, hardtanh, hardtanh_matlab)


@dataclass(frozen=True)
class Activation:
    """One registered activation (see the module docstring)."""

    name: str
    code: int
    module: ModuleType
    kinks: tuple[float, ...]
    layerwise: bool

    @property
    def phi(self) -> Callable:
        return self.module.phi

    @property
    def dphi(self) -> Callable:
        return self.module.dphi


ACTIVATIONS: dict[str, Activation] = {
    m.NAME: Activation(m.NAME, i, m, tuple(m.KINKS), bool(getattr(m, "LAYERWISE", False)))
    for i, m in enumerate(MODULES)}


def saturation(name: str, p):
    """The layer saturation ``sat`` of pre-activations ``p (..., k)`` (last axis = layer), shape
    ``(..., 1)``; 0.0 for elementwise activations."""
    a = ACTIVATIONS[name]
    if not a.layerwise:
        return 0.0
    xp = namespace(p)
    hi = xp.all(a.module.up(p), axis=-1, keepdims=True)
    lo = xp.all(a.module.down(p), axis=-1, keepdims=True)
    return 1.0 * hi - 1.0 * lo


def activation(name: str) -> Callable:
    """φ of an activation name, applied to pre-activations ``p (..., k)`` of one layer."""
    a = ACTIVATIONS[name]
    return lambda p: a.phi(p, saturation(name, p))


def derivative(name: str) -> Callable:
    """φ' (almost everywhere) of an activation name, on ``p (..., k)`` of one layer."""
    a = ACTIVATIONS[name]
    return lambda p: a.dphi(p, saturation(name, p))
