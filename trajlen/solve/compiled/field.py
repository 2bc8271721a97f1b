"""The compiled backend's vector field: ``dx/dt`` and the diagonal of its Jacobian for one network.

The kernel evaluates the models' and activations' own rules (:mod:`trajlen.models`,
:mod:`trajlen.activations`, :func:`trajlen.inputs.circle_point`) on scalars, one unit at a time, so
nothing is allocated per call. What it writes itself is the linear algebra the numpy/torch
:class:`~trajlen.models.VectorField` leaves to BLAS — each layer's pre-activations
``p = u W + b [+ x W_r]`` and ``p_g = x W_r + b_r`` — as loops into preallocated work rows, and the
composition ``dx/dt = drive − leak ⊙ x`` around the models' ``leak_drive``. Tests hold it to
VectorField for every model, activation and semantics.

A field is the tuple ``(arrays, flags, inp)``: ``arrays = (W, b, W_r, b_r, inv_tau, A, A_r, work)``
stacked per layer (``work (4, max(k, 2))`` is scratch space: the RHS allocates nothing, row 3 stays
zero); ``flags = (model code, activation code, shared recurrence, recurrent gate, |·| decay)`` (codes:
positions in the registries); ``inp = (exact, table, inv_h, last, omega, gain)`` for
:func:`~trajlen.inputs.circle_point` (:attr:`trajlen.inputs.CircleInput.args`).

The model and activation are dispatched at run time from their codes (an if-chain over each
registry, :mod:`trajlen.solve.compiled.jit`), so one compiled field serves every network.
"""

from __future__ import annotations

from numba import types

from ...inputs import circle_point
from ...models import LayerCoeffs
from .jit import (
    all_down_of,
    all_up_of,
    dphi_of,
    is_layerwise_of,
    leak_drive_of,
    njit,
    partials_of,
    phi_of,
)

__all__ = ["FIELD_TYPE", "evaluate", "rhs", "jac_diag"]

_A2 = types.float64[:, ::1]
_A3 = types.float64[:, :, ::1]
#: numba type of the field tuple (see the module docstring)
FIELD_TYPE = types.Tuple((types.Tuple((_A3, _A2, _A3, _A2, _A2, _A2, _A2, _A2)),
                          types.Tuple((types.int64, types.int64, types.boolean, types.boolean,
                                       types.boolean)),
                          types.Tuple((types.boolean, _A2, types.float64, types.float64,
                                       types.float64, types.float64))))


@njit
def _pre(u, W, k_in, b, out):
    """``out = u @ W[:k_in] + b`` for one layer, (k,)."""
    k = W.shape[1]
    for j in range(k):
        out[j] = 0.0
    for i in range(k_in):
        ui = u[i]
        for j in range(k):
            out[j] += ui * W[i, j]
    for j in range(k):
        out[j] = out[j] + b[j]


@njit
def evaluate(t, y, out, fld, jac):
    """``dx/dt`` (``jac`` False) or the Jacobian's diagonal (``jac`` True) into ``out (N,)``."""
    arrays, flags, inp = fld
    W, b, W_r, b_r, inv_tau, A, A_r, work = arrays
    model, act, shared, gate, abs_decay = flags
    n, k = b.shape
    u, p, pg, zero = work[0], work[1, :k], work[2, :k], work[3, :k]
    u[0], u[1] = circle_point(t, inp[0], inp[1], inp[2], inp[3], inp[4], inp[5])
    k_in = 2
    for layer in range(n):
        xl = y[layer * k:(layer + 1) * k]
        _pre(u, W[layer], k_in, b[layer], p)
        if shared:
            _pre(xl, W_r[layer], k, zero, pg)
            for j in range(k):
                p[j] = p[j] + pg[j]
        if gate:
            _pre(xl, W_r[layer], k, b_r[layer], pg)
        sf = 0.0   # the layer saturations (trajlen.activations): 0 for an elementwise activation
        sg = 0.0
        if is_layerwise_of(act):
            sf = 1.0 if all_up_of(act, p) else (-1.0 if all_down_of(act, p) else 0.0)
            if gate:
                sg = 1.0 if all_up_of(act, pg) else (-1.0 if all_down_of(act, pg) else 0.0)
        o = layer * k
        for j in range(k):
            c = LayerCoeffs(inv_tau[layer, j], A[layer, j], A_r[layer, j], abs_decay)
            x_j = xl[j]
            f = phi_of(act, p[j], sf)
            if gate:
                g = phi_of(act, pg[j], sg)
                leak, drive = leak_drive_of(model, x_j, f, g, c)
            else:
                leak, drive = leak_drive_of(model, x_j, f, None, c)
            if not jac:
                out[o + j] = drive - leak * x_j
                continue
            if gate:
                df, dg = partials_of(model, x_j, f, g, c)
                w = df * dphi_of(act, p[j], sf) if shared else 0.0
                w = w + dg * dphi_of(act, pg[j], sg)
            else:
                df, _ = partials_of(model, x_j, f, None, c)
                w = df * dphi_of(act, p[j], sf) if shared else 0.0
            out[o + j] = w * W_r[layer, j, j] - leak
        for j in range(k):
            u[j] = xl[j]
        k_in = k


@njit
def rhs(t, y, out, fld):
    """``dx/dt`` of one network at time ``t`` and state ``y (N,)`` into ``out (N,)``."""
    evaluate(t, y, out, fld, False)


@njit
def jac_diag(t, y, out, fld):
    """The diagonal of ``∂(dx/dt)/∂x`` (what ros23w's W-matrix uses) into ``out (N,)``."""
    evaluate(t, y, out, fld, True)
