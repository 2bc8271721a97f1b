"""The LTC of the ``ncps`` library (Lechner, Hasani et al.; ``ncps/torch/ltc_cell.py`` of ncps 1.0.1):
a conductance-based neuron model, written once here as ``dx/dt = −leak ⊙ x + drive``.

Unit j (state v_j, the membrane potential; i runs over the k units, s over the 2 input features):

    C_j dv_j/dt = g_L,j (v_L,j − v_j) + Σ_i a_ij (E_ij − v_j) + Σ_s S_sj (Ê_sj − v_j),
    a_ij = w_ij m_ij σ(σ_ij (v_i − μ_ij)),   S_sj = ŵ_sj m̂_sj σ(σ̂_sj (Ĩ_s − μ̂_sj)),   Ĩ = I ⊙ u_w + u_b

(σ the logistic function; ``m, m̂`` the wiring's masks, all ones for ncps's ``FullyConnected``; the
synapse's sigmoid reads the *presynaptic* potential v_i). So ``leak_j = (g_L,j + Σ_i a_ij + Σ_s S_sj) /
C_j`` and ``drive_j = (g_L,j v_L,j + Σ_i a_ij E_ij + Σ_s S_sj Ê_sj) / C_j``: the decay is weighted by the
positive conductances and the drive by the signed reversal potentials — not the paper's one f in both
(ncps issue #57). ncps integrates it with ``ode_unfolds`` semi-implicit Euler steps of this very pair,
``v ← (v + Δ·drive) / (1 + Δ·leak + ε·Δ/C)`` with ε = 1e-8 (``method="ncps_fused"``).

Parameters (:class:`LtcNcpsParams`) hold the *effective* values: ncps's ``LTC`` applies softplus to
``w, sensory_w, cm, gleak`` at run time (``implicit_param_constraints=True``, its default), and
trajlen stores what the equations see. :func:`sample` draws ncps's default initialisation — the
uniform ranges of ``LTCCell._init_ranges``, softplus applied, reversal potentials ±1 with ncps's
polarity draw (``FullyConnected``: P(+1) = 2/3) — with numpy from trajlen's seed machinery: the
*distribution* is ncps's, the draws are not torch's (nor ncps's fixed polarity seed 1111, under which
every ncps LTC of one size has the same E: here each sample draws its own).

The rules below are elementwise and jitable (numpy, torch and the compiled kernel call them);
:class:`LtcNcpsField` does the sums over synapses with arrays, the compiled kernel with loops.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .._xp import jitable, logistic
from .._xp import namespace as array_namespace
from ..inputs import CircleInput

__all__ = ["NAME", "EPSILON", "ODE_UNFOLDS", "INIT_RANGES", "P_EXCITATORY", "LtcNcpsParams", "sample",
           "LtcNcpsField", "synapse", "dsynapse", "leak_drive", "softplus", "softplus_inv"]

NAME = "ltc_ncps"
#: ncps's ``epsilon``: added to the fused step's denominator
EPSILON = 1e-8
#: ncps's default ``ode_unfolds`` (fused steps per input step)
ODE_UNFOLDS = 6
#: ``LTCCell._init_ranges`` of ncps 1.0.1: uniform ranges of the raw parameters
INIT_RANGES = {"gleak": (0.001, 1.0), "vleak": (-0.2, 0.2), "cm": (0.4, 0.6), "w": (0.001, 1.0),
               "sigma": (3.0, 8.0), "mu": (0.3, 0.8), "sensory_w": (0.001, 1.0),
               "sensory_sigma": (3.0, 8.0), "sensory_mu": (0.3, 0.8)}
#: the raw parameters ncps passes through softplus (``implicit_param_constraints=True``)
POSITIVE = ("gleak", "cm", "w", "sensory_w")
#: ncps's wiring polarity ``choice([-1, 1, 1])``: P(E = +1)
P_EXCITATORY = 2.0 / 3.0
N_INPUTS = 2


@jitable
def synapse(v_pre, w, mu, sigma):
    """Conductance ``w σ(σ (v_pre − μ))`` of a synapse (mask folded into ``w``), elementwise."""
    return w * logistic(sigma * (v_pre - mu))


@jitable
def dsynapse(v_pre, w, mu, sigma):
    """``∂ synapse / ∂ v_pre = w σ s (1 − s)``, elementwise."""
    s = logistic(sigma * (v_pre - mu))
    return w * sigma * s * (1.0 - s)


@jitable
def leak_drive(cm, g_total, i_total):
    """``(leak, drive)`` from a unit's total conductance ``g_L + Σ a + Σ S`` and total
    ``g_L v_L + Σ a E + Σ S Ê``, over its capacitance ``cm`` (elementwise)."""
    return g_total / cm, i_total / cm


#: torch's softplus is the identity above this (``threshold=20``)
SOFTPLUS_THRESHOLD = 20.0


def softplus(x: np.ndarray) -> np.ndarray:
    """torch's ``softplus``: ``log(1 + e^x)``, and ``x`` itself above :data:`SOFTPLUS_THRESHOLD`."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > SOFTPLUS_THRESHOLD, x, np.logaddexp(0.0, np.minimum(x, SOFTPLUS_THRESHOLD)))


def softplus_inv(y: np.ndarray) -> np.ndarray:
    """The raw value whose :func:`softplus` is ``y > 0``: ``log(expm1(y))`` (what ``to_ncps`` stores)."""
    y = np.asarray(y, dtype=np.float64)
    return np.where(y > SOFTPLUS_THRESHOLD, y, np.log(np.expm1(np.minimum(y, SOFTPLUS_THRESHOLD))))


@dataclass(frozen=True)
class LtcNcpsParams:
    """One ncps LTC's effective parameters, float64 (k units, 2 input features; ncps's names).

    Attributes
    ----------
    gleak, vleak, cm : (k,)   leak conductance (> 0), leak reversal potential, capacitance (> 0)
    w, sigma, mu, erev : (k, k)   synapse i → j at ``[i, j]``: max conductance (≥ 0), slope, midpoint,
        reversal potential
    mask : (k, k)   the wiring's synapses (1 where there is one; ncps's ``sparsity_mask``)
    sensory_w, sensory_sigma, sensory_mu, sensory_erev, sensory_mask : (2, k)   the same for input s → j
    input_w, input_b : (2,)   input mapping ``Ĩ = I ⊙ input_w + input_b`` (ncps's "affine")
    output_w, output_b : (motor,)   output mapping of the first ``motor`` units (kept for the round
        trip to ncps; trajlen measures the state v)
    """

    gleak: np.ndarray
    vleak: np.ndarray
    cm: np.ndarray
    w: np.ndarray
    sigma: np.ndarray
    mu: np.ndarray
    erev: np.ndarray
    mask: np.ndarray
    sensory_w: np.ndarray
    sensory_sigma: np.ndarray
    sensory_mu: np.ndarray
    sensory_erev: np.ndarray
    sensory_mask: np.ndarray
    input_w: np.ndarray
    input_b: np.ndarray
    output_w: np.ndarray
    output_b: np.ndarray

    MODEL = NAME

    @property
    def width(self) -> int:
        return self.gleak.shape[0]

    @property
    def depth(self) -> int:
        return 1

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def spec_fields(self) -> dict[str, Any]:
        """The NetworkSpec fields these parameters fix."""
        return dict(model=NAME, width=self.width, depth=1, activation="sigmoid", cfc_mode=None,
                    backbone_units=None, backbone_layers=None)

    @property
    def tau_min(self) -> float:
        """The smallest time constant any unit can have: ``C / (g_L + Σ w m + Σ ŵ m̂)``, every synapse
        fully open (what bounds an explicit solver's step)."""
        g = self.gleak + (self.w * self.mask).sum(axis=0) + (self.sensory_w * self.sensory_mask).sum(axis=0)
        return float((self.cm / g).min())

    def check(self, source: str) -> LtcNcpsParams:
        """Shapes, finiteness and positivity; raises ValueError naming ``source`` and the array."""
        k = self.width
        motor = self.output_w.shape[0] if self.output_w.ndim == 1 else -1
        shapes = dict(gleak=(k,), vleak=(k,), cm=(k,), w=(k, k), sigma=(k, k), mu=(k, k), erev=(k, k),
                      mask=(k, k), sensory_w=(N_INPUTS, k), sensory_sigma=(N_INPUTS, k),
                      sensory_mu=(N_INPUTS, k), sensory_erev=(N_INPUTS, k),
                      sensory_mask=(N_INPUTS, k), input_w=(N_INPUTS,), input_b=(N_INPUTS,),
                      output_w=(motor,), output_b=(motor,))
        for name, shape in shapes.items():
            a = getattr(self, name)
            if a.shape != shape or not 1 <= motor <= k:
                raise ValueError(f"{source}: array {name} must have shape {shape}, got {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{source}: array {name} has non-finite entries")
        for name in ("gleak", "cm"):
            if np.any(getattr(self, name) <= 0):
                raise ValueError(f"{source}: {name} must be > 0 everywhere")
        for name in ("w", "sensory_w"):
            if np.any(getattr(self, name) < 0):
                raise ValueError(f"{source}: {name} must be >= 0 everywhere")
        return self


def sample(width: int, rng: np.random.Generator) -> LtcNcpsParams:
    """ncps's default LTC of ``width`` units on 2 inputs (``LTC(2, FullyConnected(width))``), drawn
    from ``rng`` in the order ncps registers its parameters (gleak, vleak, cm, sigma, mu, w, erev,
    sensory_sigma, sensory_mu, sensory_w, sensory_erev); softplus applied to the positive ones."""
    k, n = width, N_INPUTS
    raw = {}
    for name, shape in (("gleak", (k,)), ("vleak", (k,)), ("cm", (k,)), ("sigma", (k, k)),
                        ("mu", (k, k)), ("w", (k, k)), ("erev", (k, k)), ("sensory_sigma", (n, k)),
                        ("sensory_mu", (n, k)), ("sensory_w", (n, k)), ("sensory_erev", (n, k))):
        if name.endswith("erev"):
            raw[name] = np.where(rng.random(shape) < P_EXCITATORY, 1.0, -1.0)
            continue
        lo, hi = INIT_RANGES[name]
        raw[name] = lo + (hi - lo) * rng.random(shape)
    for name in POSITIVE:
        raw[name] = softplus(raw[name])
    return LtcNcpsParams(**raw, mask=np.ones((k, k)), sensory_mask=np.ones((n, k)),
                         input_w=np.ones(n), input_b=np.zeros(n), output_w=np.ones(k),
                         output_b=np.zeros(k))


class LtcNcpsField:
    """``dx/dt`` of B ncps LTCs of one spec (the :class:`~trajlen.models.VectorField` interface):
    state ``y (B, k)`` is v; ``arrays`` are :class:`LtcNcpsParams` arrays stacked with a leading batch
    axis (numpy or torch)."""

    def __init__(self, net: Any, inp: Any, arrays: dict[str, Any]):
        self.net, self.inp, self.arrays = net, inp, arrays
        a = arrays
        ref = a["w"]
        self.input = CircleInput(inp, array_namespace(ref), device=getattr(ref, "device", None),
                                 dtype=ref.dtype)
        self.B, self.k = ref.shape[0], ref.shape[-1]
        self.g = a["w"] * a["mask"]                       # (B, k, k) effective conductances
        self.g_sensory = a["sensory_w"] * a["sensory_mask"]
        #: ε/C: ncps's ε in the fused step's denominator, per unit (B, k)
        self.eps_over_cm = EPSILON / a["cm"]

    @classmethod
    def from_params(cls, net, inp, params, xp=np, device=None, dtype=None) -> LtcNcpsField:
        from ..params import stack_params

        return cls(net, inp, stack_params(params, xp, device, dtype))

    def take(self, rows) -> LtcNcpsField:
        return LtcNcpsField(self.net, self.inp, {k: v[rows] for k, v in self.arrays.items()})

    def _totals(self, t, y):
        """Each unit's total conductance and total current (B, k), and the synapses' pre-activation
        inputs (the presynaptic potentials)."""
        a = self.arrays
        u = self.input(t) * a["input_w"] + a["input_b"]                        # (B, 2)
        S = synapse(u[:, :, None], self.g_sensory, a["sensory_mu"], a["sensory_sigma"])
        A = synapse(y[:, :, None], self.g, a["mu"], a["sigma"])                # (B, src, dst)
        g_total = a["gleak"] + A.sum(axis=1) + S.sum(axis=1)
        i_total = a["gleak"] * a["vleak"] + (A * a["erev"]).sum(axis=1) + (S * a["sensory_erev"]).sum(axis=1)
        return g_total, i_total

    def leak_drive(self, t, y):
        """``(leak, drive)``, each ``(B, k)``, with ``dx/dt = −leak ⊙ x + drive``."""
        return leak_drive(self.arrays["cm"], *self._totals(t, y))

    def __call__(self, t, y):
        """``dx/dt`` of shape ``(B, k)`` for ``t (B,)`` and ``y (B, k)``."""
        leak, drive = self.leak_drive(t, y)
        return drive - leak * y

    def jacobian(self, t, y):
        """Analytic ``∂(dx/dt)/∂x`` ``(B, k, k)``: ``J[j, m] = [∂a_mj/∂v_m (E_mj − v_j) − δ_jm
        (g_L,j + Σ_i a_ij + Σ_s S_sj)] / C_j``."""
        a = self.arrays
        xp = array_namespace(y)
        leak, _ = self.leak_drive(t, y)
        dA = dsynapse(y[:, :, None], self.g, a["mu"], a["sigma"])              # (B, m, j)
        J = (dA * (a["erev"] - y[:, None, :])).swapaxes(-1, -2) / a["cm"][:, :, None]
        idx = xp.arange(self.k) if xp is np else xp.arange(self.k, device=y.device)
        J[:, idx, idx] = J[:, idx, idx] - leak
        return J
