"""Pipeline stage 2 — the vector field: each model's equations, written once for numpy and torch.

:class:`VectorField` evaluates ``dx/dt`` and its analytic Jacobian for a *batch* of B networks of one
:class:`~trajlen.spec.NetworkSpec` (batch axis first). The scipy path uses it with B = 1 and numpy
arrays; the batched torch solver with torch tensors. The per-model files ``node.py``, ``ctrnn.py``,
``ltc.py`` hold the only definition of each model's right-hand side, as ``dx/dt = −leak ⊙ x + drive``.

Layer ℓ of width k with drive u (the input I(t) for ℓ = 1, else the state of layer ℓ−1):
``f = φ(u W_ℓ + b_ℓ [+ x_ℓ W_r,ℓ])`` — the recurrent term inside f when ``recurrence="shared"``
(paper); ``g = φ(x_ℓ W_r,ℓ + b_r,ℓ)`` — a separate recurrent gate, LTC only, when
``recurrence="ltc_only"`` (authors' code).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from .._xp import namespace as array_namespace
from ..activations import ACTIVATIONS, saturation
from ..inputs import CircleInput
from ..params import Params, stack_params
from ..spec import InputSpec, NetworkSpec
from . import ctrnn, ltc, ltc_ncps, node

__all__ = ["VectorField", "MODEL_EQUATIONS", "MODULES", "LayerCoeffs", "has_gate", "FIELDS",
           "ODE_MODELS", "field_for"]

#: The registry of continuous-time models, in code order (the compiled kernel dispatches on the
#: position). Adding a model: one module with ``NAME``, ``RECURRENT_GATE``, ``TAU_IN_LEAK``,
#: ``leak_drive`` and ``partials`` (see node.py), and one entry here.
MODULES: tuple[ModuleType, ...] = (node, ctrnn, ltc)
MODEL_EQUATIONS: dict[str, ModuleType] = {m.NAME: m for m in MODULES}


def has_gate(net: NetworkSpec) -> bool:
    """Does the network have a separate recurrent gate ``g`` (``recurrence="ltc_only"`` on a model
    whose equations take one, the authors' LTC)?"""
    return net.recurrence == "ltc_only" and bool(MODEL_EQUATIONS[net.model].RECURRENT_GATE)


class LayerCoeffs(NamedTuple):
    """Per-layer coefficients of ``leak_drive`` (a NamedTuple so numba-compiled code can take it)."""

    inv_tau: Any  # (B, k) — 1/τ
    A: Any        # (B, k) — LTC reversal potentials
    A_r: Any      # (B, k) — LTC recurrent-gate reversal potentials
    abs_decay: bool


def _matvec(u, W):
    """Batched ``u @ W``: ``(B, a) × (B, a, k) → (B, k)``."""
    return (u[:, None, :] @ W)[:, 0, :]


class VectorField:
    """``dx/dt`` of B networks sharing one spec; state ``y`` is ``(B, depth·width)``, layers stacked.

    Parameters
    ----------
    net, inp : the network and input specs (one for the whole batch).
    arrays : dict of stacked parameter arrays with a leading batch axis, as :meth:`stack` builds.
    """

    def __init__(self, net: NetworkSpec, inp: InputSpec, arrays: dict[str, Any]):
        if net.model not in MODEL_EQUATIONS:
            raise ValueError(f"model {net.model!r} has no vector field (static networks are "
                             "evaluated by trajlen.models.mlp.forward)")
        self.net, self.inp, self.arrays = net, inp, arrays
        self.eq = MODEL_EQUATIONS[net.model]
        self.act = ACTIVATIONS[net.phi]
        self.shared = net.recurrence == "shared"
        self.gate = has_gate(net)
        a = arrays
        W = a["W"]
        xp = array_namespace(W)
        self.input = CircleInput(inp, xp, device=getattr(W, "device", None), dtype=W.dtype)
        self.B, self.n, self.k = a["W"].shape[0], a["W"].shape[1], a["W"].shape[2]
        self.coeffs = [
            LayerCoeffs(inv_tau=1.0 / a["tau"][:, layer],
                         A=(a["E"][:, layer].sum(axis=1) if net.ltc_A == "column_sums"
                            else a["A"][:, layer]),
                         A_r=a["E_r"][:, layer].sum(axis=1),
                         abs_decay=net.ltc_decay == "abs")
            for layer in range(self.n)]

    # -- construction ---------------------------------------------------------------------------
    @staticmethod
    def stack(params: Sequence[Params], xp: Any = np, device: Any = None, dtype: Any = None) -> dict:
        """Stack parameters of B networks into batched arrays of namespace ``xp`` (numpy or torch)."""
        return stack_params(params, xp, device, dtype)

    @classmethod
    def from_params(cls, net: NetworkSpec, inp: InputSpec, params: Sequence[Params] | Params,
                    xp: Any = np, device: Any = None, dtype: Any = None) -> VectorField:
        if isinstance(params, Params):
            params = [params]
        return cls(net, inp, cls.stack(params, xp, device, dtype))

    def take(self, rows) -> VectorField:
        """The field restricted to batch rows ``rows`` (index array), e.g. after compaction."""
        return VectorField(self.net, self.inp, {k: v[rows] for k, v in self.arrays.items()})

    # -- evaluation -----------------------------------------------------------------------------
    def _layer(self, layer: int, u, xl):
        a = self.arrays
        W_in = a["W"][:, 0, :2, :] if layer == 0 else a["W"][:, layer]
        p = _matvec(u, W_in) + a["b"][:, layer]
        if self.shared:
            p = p + _matvec(xl, a["W_r"][:, layer])
        pg = _matvec(xl, a["W_r"][:, layer]) + a["b_r"][:, layer] if self.gate else None
        return p, pg

    def _gates(self, t, y):
        """Yield ``(layer, x_l, p_f, p_g, sat_f, sat_g)`` per layer for times ``t (B,)`` and states
        ``y (B, N)``: pre-activations and layer saturations (``p_g``, ``sat_g`` None without a gate)."""
        x = y.reshape(y.shape[0], self.n, self.k)
        u = self.input(t)
        name = self.act.name
        for layer in range(self.n):
            xl = x[:, layer]
            p, pg = self._layer(layer, u, xl)
            yield (layer, xl, p, pg, saturation(name, p),
                   None if pg is None else saturation(name, pg))
            u = xl

    def _fg(self, p, pg, sf, sg):
        return self.act.phi(p, sf), (None if pg is None else self.act.phi(pg, sg))

    def leak_drive(self, t, y):
        """``(leak, drive)``, each ``(B, N)``, with ``dx/dt = −leak ⊙ x + drive`` (for paper Eq. 3)."""
        xp = array_namespace(y)
        leaks, drives = [], []
        for layer, xl, p, pg, sf, sg in self._gates(t, y):
            f, g = self._fg(p, pg, sf, sg)
            lk, dr = self.eq.leak_drive(xl, f, g, self.coeffs[layer])
            leaks.append(lk)
            drives.append(dr)
        return xp.concat(leaks, axis=-1), xp.concat(drives, axis=-1)

    def __call__(self, t, y):
        """``dx/dt`` of shape ``(B, N)`` for ``t`` of shape ``(B,)`` and ``y`` of shape ``(B, N)``."""
        leak, drive = self.leak_drive(t, y)
        return drive - leak * y

    def jacobian(self, t, y):
        """Analytic ``∂(dx/dt)/∂x``, shape ``(B, N, N)`` (derivatives almost everywhere for kinks).

        Block (ℓ, ℓ): ``−diag(leak) + diag(∂r/∂f ⊙ φ'(p_f)) W_rᵀ [shared] + diag(∂r/∂g ⊙ φ'(p_g)) W_rᵀ``;
        block (ℓ, ℓ−1): ``diag(∂r/∂f ⊙ φ'(p_f)) W_ℓᵀ``. Everything else is zero.
        """
        return self._with_jacobian(t, y)[2]

    def value_and_jacobian(self, t, y):
        """``(dx/dt (B, N), ∂(dx/dt)/∂x (B, N, N))`` from one pass over the layers: the same numbers
        as :meth:`__call__` and :meth:`jacobian`, with the input and the pre-activations computed
        once (what the tangent integration of :mod:`trajlen.lyapunov` needs at every evaluation)."""
        leak, drive, J = self._with_jacobian(t, y)
        return drive - leak * y, J

    def _with_jacobian(self, t, y):
        """``(leak (B, N), drive (B, N), J (B, N, N))`` (see :meth:`leak_drive`, :meth:`jacobian`)."""
        xp = array_namespace(y)
        B, n, k = y.shape[0], self.n, self.k
        J = xp.zeros((B, n * k, n * k), dtype=y.dtype, device=getattr(y, "device", None))
        a = self.arrays
        leaks, drives = [], []
        for layer, xl, p, pg, sf, sg in self._gates(t, y):
            c = self.coeffs[layer]
            f, g = self._fg(p, pg, sf, sg)
            leak, drive = self.eq.leak_drive(xl, f, g, c)
            leaks.append(leak)
            drives.append(drive)
            dr_df, dr_dg = self.eq.partials(xl, f, g, c)
            cf = dr_df * self.act.dphi(p, sf)
            rows = slice(layer * k, (layer + 1) * k)
            block = xp.zeros((B, k, k), dtype=y.dtype, device=getattr(y, "device", None))
            if self.shared:
                block = block + cf[:, :, None] * a["W_r"][:, layer].swapaxes(-1, -2)
            if pg is not None:
                cg = dr_dg * self.act.dphi(pg, sg)
                block = block + cg[:, :, None] * a["W_r"][:, layer].swapaxes(-1, -2)
            idx = xp.arange(k) if xp is np else xp.arange(k, device=y.device)
            block[:, idx, idx] = block[:, idx, idx] - leak
            J[:, rows, rows] = block
            if layer > 0:
                J[:, rows, (layer - 1) * k:layer * k] = cf[:, :, None] * a["W"][:, layer].swapaxes(-1, -2)
        return xp.concat(leaks, axis=-1), xp.concat(drives, axis=-1), J


#: Vector fields of the models that are not layers of trajlen's ``φ(uW + b [+ xW_r])`` (each with
#: the :class:`VectorField` interface: ``from_params``, ``take``, ``leak_drive``, ``__call__``,
#: ``jacobian``); every other continuous-time model is a :class:`VectorField`.
FIELDS: dict[str, type] = {ltc_ncps.NAME: ltc_ncps.LtcNcpsField}
#: every model of trajlen's equations that is an ODE, so that every solver integrates it (a user's
#: vector field, model ``ode``, runs on the scipy backend only)
ODE_MODELS: tuple[str, ...] = (*MODEL_EQUATIONS, *FIELDS)


def field_for(net: NetworkSpec, inp: InputSpec, params, xp: Any = np, device: Any = None,
              dtype: Any = None):
    """The vector field of B networks of ``net`` (``params``: one parameter object or a sequence),
    in namespace ``xp``: the model's own field class, or :class:`VectorField`."""
    if net.model == "ode":   # a Python vector field: one network, numpy
        from ..user import CallableField

        return CallableField(net, inp, params[0] if isinstance(params, (list, tuple)) else params)
    if not isinstance(params, (list, tuple)):
        params = [params]
    cls = FIELDS.get(net.model, VectorField)
    return cls(net, inp, stack_params(params, xp, device, dtype))
