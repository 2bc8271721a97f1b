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

A second *kind* of field, :class:`NcpsPacked`, is the ncps LTC (:mod:`trajlen.models.ltc_ncps`): its
synapses sum over every presynaptic unit, so it is no layer of ``φ(uW + b)``. :func:`evaluate`
picks the kind from the field's type while the kernel is typed, so the loops of :mod:`.explicit` and
:mod:`.rosenbrock` are compiled once per kind and never copied; the layered kind compiles exactly
the code it always did.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from numba import types
from numba.extending import overload

from ...inputs import circle_point
from ...models import LayerCoeffs
from ...models import ltc_ncps as ncps_rules
from .borrow import borrowed
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

__all__ = ["FIELD_TYPE", "NcpsPacked", "evaluate", "evaluate_layered", "evaluate_ncps", "rhs",
           "jac_diag"]

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
    """``out = u @ W[:k_in] + b`` for one layer, (k,): each ``out[j]`` sums ``u[i] W[i, j]`` in the
    order of ``i`` from 0.0, then adds ``b[j]``. Eight rows at a time, so ``out`` is loaded and stored
    once per eight rows rather than once per row (1.1-1.5x faster at k = 25-200 on the Xeon), with
    the same additions in the same order: the same bits as one row at a time."""
    k = W.shape[1]
    for j in range(k):
        out[j] = 0.0
    i = 0
    while i + 8 <= k_in:
        u0, u1, u2, u3, u4, u5, u6, u7 = u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], \
            u[i + 6], u[i + 7]
        w0, w1, w2, w3, w4, w5, w6, w7 = W[i], W[i + 1], W[i + 2], W[i + 3], W[i + 4], W[i + 5], \
            W[i + 6], W[i + 7]
        for j in range(k):
            out[j] = ((((((((out[j] + u0 * w0[j]) + u1 * w1[j]) + u2 * w2[j]) + u3 * w3[j])
                         + u4 * w4[j]) + u5 * w5[j]) + u6 * w6[j]) + u7 * w7[j])
        i += 8
    while i < k_in:
        ui = u[i]
        for j in range(k):
            out[j] += ui * W[i, j]
        i += 1
    for j in range(k):
        out[j] = out[j] + b[j]


class NcpsPacked(NamedTuple):
    """The ncps LTC as the kernel takes it: ``arrays = (gleak, vleak, cm, g, mu, sigma, erev,
    g_sensory, sensory_mu, sensory_sigma, sensory_erev, input_w, input_b, work)`` (``g = w ⊙ mask``
    (k, k) ``[src, dst]``; sensory (2, k); ``work (2, k)`` scratch) and ``inp`` as in the layered kind."""

    arrays: Any
    inp: Any


def evaluate(t, y, out, fld, jac):
    """``dx/dt`` (``jac`` False) or the Jacobian's diagonal (``jac`` True) of field ``fld`` (either
    kind) into ``out (N,)``; compiled code only."""
    raise NotImplementedError("evaluate runs in compiled code")


@overload(evaluate)
def _evaluate_kind(t, y, out, fld, jac):
    if getattr(fld, "instance_class", None) is NcpsPacked:
        return lambda t, y, out, fld, jac: evaluate_ncps(t, y, out, fld, jac)
    return lambda t, y, out, fld, jac: evaluate_layered(t, y, out, fld, jac)


@njit
def evaluate_layered(t, y, out, fld, jac):
    """The layered kind: ``dx/dt`` (``jac`` False) or the Jacobian's diagonal into ``out (N,)``."""
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
def _sensory(G, Nn, u, s, g, mu, sigma, erev):
    """Add input feature ``s`` (mapped value ``u``)'s synapses to every unit's totals."""
    for j in range(G.shape[0]):
        a = ncps_rules.synapse(u, g[s, j], mu[s, j], sigma[s, j])
        G[j] += a
        Nn[j] += a * erev[s, j]


@njit
def evaluate_ncps(t, y, out, fld, jac):
    """The ncps LTC: ``dx/dt`` (``jac`` False) or the Jacobian's diagonal into ``out (k,)``, from
    :mod:`trajlen.models.ltc_ncps`'s rules (synapse, dsynapse, leak_drive) on scalars."""
    gleak, vleak, cm, g, mu, sigma, erev, gs, smu, ssig, serev, in_w, in_b, work = fld.arrays
    inp = fld.inp
    k = y.shape[0]
    G, Nn = work[0], work[1]
    for j in range(k):
        G[j] = gleak[j]
        Nn[j] = gleak[j] * vleak[j]
    u0, u1 = circle_point(t, inp[0], inp[1], inp[2], inp[3], inp[4], inp[5])
    _sensory(G, Nn, u0 * in_w[0] + in_b[0], 0, gs, smu, ssig, serev)
    _sensory(G, Nn, u1 * in_w[1] + in_b[1], 1, gs, smu, ssig, serev)
    for i in range(k):
        vi = y[i]
        for j in range(k):
            a = ncps_rules.synapse(vi, g[i, j], mu[i, j], sigma[i, j])
            G[j] += a
            Nn[j] += a * erev[i, j]
    for j in range(k):
        leak, drive = ncps_rules.leak_drive(cm[j], G[j], Nn[j])
        if jac:
            d = ncps_rules.dsynapse(y[j], g[j, j], mu[j, j], sigma[j, j])
            out[j] = d * (erev[j, j] - y[j]) / cm[j] - leak
        else:
            out[j] = drive - leak * y[j]


@njit(entry=True)
def rhs(t, y, out, fld):
    """``dx/dt`` of one network at time ``t`` and state ``y (N,)`` into ``out (N,)``."""
    y, out, fld = borrowed((y, out, fld))
    evaluate(t, y, out, fld, False)


@njit(entry=True)
def jac_diag(t, y, out, fld):
    """The diagonal of ``∂(dx/dt)/∂x`` (what ros23w's W-matrix uses) into ``out (N,)``."""
    y, out, fld = borrowed((y, out, fld))
    evaluate(t, y, out, fld, True)
