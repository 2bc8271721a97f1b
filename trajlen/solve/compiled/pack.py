"""Kernel arguments of one network, from the coefficients :class:`~trajlen.models.VectorField` derives
(the one place 1/τ, A as column sums and the input table are computed)."""

from __future__ import annotations

import numpy as np

from ...models import VectorField, has_gate
from ...params import Params
from ...spec import InputSpec, NetworkSpec
from .jit import ACTIVATION_CODES, MODEL_CODES

__all__ = ["pack_field", "codes"]


def codes(net: NetworkSpec) -> tuple[int, int]:
    """``(model code, activation code)``: what a compiled field is specialised for."""
    return MODEL_CODES[net.model], ACTIVATION_CODES[net.phi]


def pack_field(net: NetworkSpec, inp: InputSpec, params: Params) -> tuple:
    """The field tuple ``(arrays, flags, inp)`` of :mod:`trajlen.solve.compiled.field`."""
    field = VectorField.from_params(net, inp, params)
    a = field.arrays
    n, k = net.depth, net.width
    coeffs = field.coeffs
    c = np.ascontiguousarray
    arrays = (c(a["W"][0]), c(a["b"][0]), c(a["W_r"][0]), c(a["b_r"][0]),
              c(np.stack([x.inv_tau[0] for x in coeffs])), c(np.stack([x.A[0] for x in coeffs])),
              c(np.stack([x.A_r[0] for x in coeffs])), np.zeros((4, max(k, 2))))
    if arrays[1].shape != (n, k):
        raise ValueError(f"parameters of shape {arrays[1].shape} for a network of depth {n}, width {k}")
    flags = (*codes(net), net.recurrence == "shared", has_gate(net), net.ltc_decay == "abs")
    exact, table, inv_h, last, omega, gain = field.input.args
    inp_args = (exact, c(table, dtype=np.float64), float(inv_h), float(last), omega, gain)
    return arrays, flags, inp_args
