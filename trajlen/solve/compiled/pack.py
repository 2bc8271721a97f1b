"""Kernel arguments of one network, from the coefficients :class:`~trajlen.models.VectorField` derives
(the one place 1/τ, A as column sums and the input table are computed)."""

from __future__ import annotations

import numpy as np

from ...models import VectorField, field_for, has_gate
from ...params import Params
from ...spec import InputSpec, NetworkSpec
from .field import NcpsPacked
from .jit import ACTIVATION_CODES, MODEL_CODES

__all__ = ["pack_field", "codes", "jumps"]


def codes(net: NetworkSpec) -> tuple[int, int]:
    """``(model code, activation code)``: what a compiled field is specialised for."""
    return MODEL_CODES[net.model], ACTIVATION_CODES[net.phi]


def _input_args(inp: InputSpec, ci) -> tuple:
    """The compiled input's arguments ``(exact, table, inv_h, last, omega, gain)``."""
    exact, table, inv_h, last, omega, gain = ci.args
    return (exact, np.ascontiguousarray(table, dtype=np.float64), float(inv_h), float(last), omega, gain)


def _pack_ncps(net: NetworkSpec, inp: InputSpec, params) -> NcpsPacked:
    field = field_for(net, inp, params)
    a = field.arrays
    c = np.ascontiguousarray
    arrays = tuple(c(v[0]) for v in (a["gleak"], a["vleak"], a["cm"], field.g, a["mu"], a["sigma"],
                                     a["erev"], field.g_sensory, a["sensory_mu"], a["sensory_sigma"],
                                     a["sensory_erev"], a["input_w"], a["input_b"]))
    return NcpsPacked(arrays + (np.zeros((2, net.width)),), _input_args(inp, field.input))


def jumps(fld) -> bool:
    """Does the field's RHS jump (MATLAB's layer-wise Htanh), so that RK45+ros23w must stay RK45?"""
    return not isinstance(fld, NcpsPacked) and fld[1][1] == ACTIVATION_CODES["hardtanh_matlab"]


def pack_field(net: NetworkSpec, inp: InputSpec, params: Params) -> tuple:
    """The field tuple ``(arrays, flags, inp)`` of :mod:`trajlen.solve.compiled.field`, or an
    :class:`~trajlen.solve.compiled.field.NcpsPacked` for the ncps LTC."""
    if net.model == "ltc_ncps":
        return _pack_ncps(net, inp, params)
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
    return arrays, flags, _input_args(inp, field.input)
