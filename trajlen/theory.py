"""Pipeline stage 10 — theory: mean-field predictions to hold simulations against.

Static deep networks (Poole et al. 2016; Raghu et al. 2017): the length map q ↦ σ_w² E[φ(√q z)²] + σ_b²,
the per-layer stretch χ(q) = σ_w² E[φ'(√q z)²] and the full-space length of each layer, which grows by
√χ₁ per layer once q has reached its fixed point q*. σ_w², σ_b² are *variances* here (weights
N(0, σ_w²/k), the ``weight_init="var_over_k"`` of the paper semantics)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .spec import SpecError

__all__ = ["gaussian_expectation", "mean_field_q", "mean_field_chi", "mean_field_fixed_point",
           "mean_field_lengths", "linear_forward"]

_PHI = {
    "hardtanh": (lambda h: np.clip(h, -1.0, 1.0), lambda h: 1.0 * (np.abs(h) < 1.0), (-1.0, 1.0)),
    "relu": (lambda h: np.maximum(h, 0.0), lambda h: 1.0 * (h > 0.0), (0.0,)),
    "linear": (lambda h: h, lambda h: np.ones_like(h), ()),
    "tanh": (np.tanh, lambda h: 1.0 - np.tanh(h) ** 2, ()),
}


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], q: float,
                         kinks: Sequence[float] = (), n: int = 24, method: str = "panels") -> float:
    """``∫ Dz f(√q z)`` (Dz the standard normal measure) by Gauss quadrature.

    ``method="hermite"``: ``n``-node Gauss–Hermite — exact for polynomials, fine for smooth ``f`` that
    vary on the scale of z, but it converges slowly through kinks (errors of several % at 200 nodes for
    hard-tanh's ``φ'²``) and misses features narrower than the node spacing (``tanh'(√q z)²`` at large q).
    ``method="panels"`` (default): the z-line ``[−12, 12]`` is cut at the kinks (points in h where f or
    its derivative jumps, e.g. ±1 for hard-tanh, mapped to z = h/√q), at ``±1/√q, ±3/√q`` and into unit
    panels, and each panel gets ``n``-node Gauss–Legendre against the normal density — accurate to
    ~1e-12 for the piecewise-linear activations (checked against closed forms in the tests).
    """
    if q <= 0:
        return float(np.asarray(f(np.zeros(1)))[0])
    s = math.sqrt(q)
    if method == "hermite":
        x, w = np.polynomial.hermite.hermgauss(n)
        return float(np.sum(w * f(math.sqrt(2.0) * s * x)) / math.sqrt(math.pi))
    if method != "panels":
        raise ValueError(f"method must be one of panels, hermite, got {method!r}")
    pts = [*(h / s for h in kinks), 1 / s, -1 / s, 3 / s, -3 / s, *np.arange(-12.0, 12.5, 1.0)]
    cuts = np.unique(np.clip(pts, -12.0, 12.0))
    x, w = np.polynomial.legendre.leggauss(n)
    a, b = cuts[:-1, None], cuts[1:, None]
    z = 0.5 * (b - a) * x + 0.5 * (a + b)  # (panels, n)
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return float(np.sum(0.5 * (b - a) * w * pdf * f(s * z)))


def _phi(activation: str):
    if activation not in _PHI:
        raise SpecError(f"mean-field activation must be one of {', '.join(_PHI)}, got {activation!r}")
    return _PHI[activation]


def mean_field_q(q: float, sigma_w2: float, sigma_b2: float, activation: str = "hardtanh") -> float:
    """One step of the length map (Poole et al. 2016, Eq. 3): ``σ_w² ∫Dz φ(√q z)² + σ_b²``, weights
    ``N(0, σ_w²/k)``, biases ``N(0, σ_b²)`` (σ_w², σ_b² are variances: ``weight_init="var_over_k"``)."""
    phi, _, kinks = _phi(activation)
    return sigma_w2 * gaussian_expectation(lambda h: phi(h) ** 2, q, kinks) + sigma_b2


def mean_field_chi(q: float, sigma_w2: float, activation: str = "hardtanh") -> float:
    """``χ(q) = σ_w² ∫Dz φ'(√q z)²``: the mean squared stretch of an infinitesimal segment per layer at
    pre-activation variance q (Poole et al. 2016, Eq. 7; χ₁ at q = q*)."""
    _, dphi, kinks = _phi(activation)
    return sigma_w2 * gaussian_expectation(lambda h: dphi(h) ** 2, q, kinks)


def mean_field_fixed_point(sigma_w2: float, sigma_b2: float, activation: str = "hardtanh",
                           q0: float = 1.0, tol: float = 1e-13, max_iter: int = 10_000) -> float:
    """q*, the fixed point of :func:`mean_field_q` (iterated; the map is a contraction for hard-tanh)."""
    if activation == "relu" and sigma_w2 == 2.0:
        raise ValueError("ReLU at σ_w² = 2 has no finite fixed point q* (the map is q ↦ q + σ_b²); "
                         "χ = σ_w²/2 = 1 does not depend on q")
    q = q0
    for _ in range(max_iter):
        q_new = mean_field_q(q, sigma_w2, sigma_b2, activation)
        if abs(q_new - q) <= tol * max(1.0, q):
            return q_new
        q = q_new
    raise RuntimeError(f"q* did not converge for σ_w²={sigma_w2}, σ_b²={sigma_b2}, {activation}")


def mean_field_lengths(sigma_w2: float, sigma_b2: float, depth: int, width: int,
                       activation: str = "hardtanh", l_input: float = 2.0 * math.pi,
                       input_norm2: float = 1.0) -> np.ndarray:
    """Mean-field full-space length of layers 1..depth of a static network fed a circle.

    Layer 1 reads the 2-D input through weights of variance ``σ_w²/k`` (k = width, as in
    :func:`trajlen.models.mlp.forward`), so its pre-activation variance is
    ``q¹ = σ_w² ‖I‖²/k + σ_b²`` and a tangent's squared norm is multiplied by ``σ_w²`` before φ';
    afterwards ``q^{ℓ+1} = σ_w² ∫Dz φ(√q^ℓ z)² + σ_b²``. The length of layer ℓ is
    ``l(I) Π_{j≤ℓ} sqrt(χ(q^j))``; it grows by √χ₁ per layer once q has reached q*. Exact at infinite
    width when the tangent is orthogonal to the state (true for the circle: ‖I‖ is constant).
    """
    q = sigma_w2 * input_norm2 / width + sigma_b2
    out = []
    length = l_input
    for _ in range(depth):
        length *= math.sqrt(mean_field_chi(q, sigma_w2, activation))
        out.append(length)
        q = mean_field_q(q, sigma_w2, sigma_b2, activation)
    return np.array(out)



def linear_forward(params, inputs: np.ndarray) -> np.ndarray:
    """A static network with identity activation built from trajlen :class:`~trajlen.params.Params`:
    ``z^{(ℓ+1)} = z^{(ℓ)} W_ℓ + b_ℓ`` (layer 1 reads ``W[0, :2, :]``). Returns ``(T, depth, width)``."""
    out, u = [], np.asarray(inputs, dtype=np.float64)
    for layer in range(params.depth):
        W = params.W[layer, :2, :] if layer == 0 else params.W[layer]
        u = u @ W + params.b[layer]
        out.append(u)
    return np.stack(out, axis=1)
