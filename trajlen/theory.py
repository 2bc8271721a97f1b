"""Pipeline stage 10 — theory: mean-field predictions to hold simulations against.

Static deep networks (Poole et al. 2016; Raghu et al. 2017): the length map q ↦ σ_w² E[φ(√q z)²] + σ_b²,
the per-layer stretch χ(q) = σ_w² E[φ'(√q z)²] and the full-space length of each layer, which grows by
√χ₁ per layer once q has reached its fixed point q*. σ_w², σ_b² are *variances* here (weights
N(0, σ_w²/k), the ``weight_init="var_over_k"`` of the paper semantics).

Continuous time, the paper-semantics Neural ODE ``dx/dt = φ(W_rec x + W_in I(t) + b)``, x(0) = 0
(derivation, assumptions and measured accuracy: docs/theory.md). At k → ∞ the pre-activations are a
Gaussian process across units with covariance ``C(t, s) = σ_w² Q(t, s) + σ_b² + v_in cos(t − s)``,
``Q(t, s) = x(t)·x(s)/k``, and ``∂²Q/∂t∂s = E[φ(p(t)) φ(p(s))]`` (:func:`node_mean_field`); the
full-space length is ``√k ∫ √V(C(t, t)) dt``, V(q) = E φ(√q z)² (:func:`node_length`,
``closure="two_time"``). ``closure="straight"`` is the one-time candidate ``dℓ/dt = √V(σ_w² ℓ² + σ_b²)``,
which takes ‖x(t)‖ equal to the arc length so far; it is an upper bound on the two-time value. The
PCA length follows from the same Q (:meth:`NodeMeanField.pca`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .activations import ACTIVATIONS
from .spec import SpecError

__all__ = ["gaussian_expectation", "mean_field_q", "mean_field_chi", "mean_field_fixed_point",
           "mean_field_lengths", "linear_forward", "activation_variance", "activation_covariance",
           "NodeMeanField", "node_mean_field", "node_length", "CLOSURES"]

def _registered(a):
    return (lambda h: a.phi(h, 0.0), lambda h: a.dphi(h, 0.0), a.kinks)


#: φ, φ' and kinks of every elementwise activation of the registry (trajlen.activations), plus the
#: identity ("linear", where the derivation is exact); MATLAB's layer-wise Htanh has no mean field.
_PHI = {name: _registered(a) for name, a in ACTIVATIONS.items() if not a.layerwise}
_PHI["linear"] = (lambda h: h, lambda h: np.ones_like(h), ())


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


# ---- continuous time: the paper-semantics Neural ODE dx/dt = φ(W_rec x + W_in I(t) + b), x(0) = 0 ----
# Derivation and assumptions: docs/theory.md. Notation: Q(t, s) = x(t)·x(s)/k (the overlap),
# C(t, s) = σ_w² Q(t, s) + σ_b² + v_in cos(t − s) (the pre-activations' covariance across units),
# v_in = σ_w² ‖I‖²/k (the input's share; 0 in the k → ∞ limit at fixed input), q(t) = C(t, t).

CLOSURES = ("two_time", "straight")


@lru_cache(maxsize=1)
def _kolmogorov_rule(n: int = 40, lo: float = 0.2, hi: float = 3.8) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ``∫ g(K) dP(K)`` for the Kolmogorov distribution (Gauss–Legendre on
    [0.2, 3.8], which holds all but ~1e-12 of its mass). Used through ``tanh(h) = E_K erf(h/(K√2))``:
    the logistic law is a normal scale mixture, X = 2KZ (Stefanski 1991); max error 2e-10 over h."""
    x, w = np.polynomial.legendre.leggauss(n)
    k = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)
    m = np.arange(1, 12)[:, None]
    a = (2 * m - 1) ** 2 * math.pi**2 / (8 * k**2)  # the small-K series (theta-function dual)
    small = math.sqrt(2 * math.pi) / k**2 * np.sum((2 * a - 1) * np.exp(-a), 0)
    large = 8 * k * np.sum((-1.0) ** (m - 1) * m**2 * np.exp(-2 * m**2 * k**2), 0)
    wk = 0.5 * (hi - lo) * w * np.where(k < 1.0, small, large)
    return k, wk / wk.sum()


def _clip_mean(m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``E clip(X, −1, 1)`` for X ~ N(m, s²), elementwise, in closed form."""
    from scipy.special import ndtr

    ss = np.maximum(s, 1e-300)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        a, b = (-1.0 - m) / ss, (1.0 - m) / ss
        pa, pb = ndtr(a), ndtr(b)
        da, db = np.exp(-0.5 * a * a), np.exp(-0.5 * b * b)
        g = 1.0 - pa - pb + m * (pb - pa) + ss * (da - db) / math.sqrt(2 * math.pi)
    return np.where(s > 1e-12, g, np.clip(m, -1.0, 1.0))


def _hardtanh_cov(q1, q2, c, n: int = 10):
    """E[clip(u) clip(v)]: v | u Gaussian, inner mean in closed form, outer z₁ = u/√q₁ by panels cut at
    the kinks of both factors (|u| = 1 and |E[v | u]| = 1) and into unit panels on [−10, 10]."""
    s1 = np.sqrt(q1)
    beta = c / s1                                     # E[v | z₁] = β z₁
    s = np.sqrt(np.maximum(q2 - beta * beta, 0.0))    # std of v given z₁
    # where E[v | z₁] crosses ±1, and ±s, ±4s around it (the inner mean's smoothed kink, narrow near ρ = 1)
    ib = np.divide(1.0, np.abs(beta), out=np.full_like(beta, 1e3), where=beta != 0)
    kv = [sign * (1.0 + d * s) * ib for sign in (1.0, -1.0) for d in (0.0, -4.0, -1.0, 1.0, 4.0)]
    cuts = np.concatenate([np.stack([1 / s1, -1 / s1, 3 / s1, -3 / s1, *kv], -1),
                           np.broadcast_to(np.arange(-10.0, 10.5), (len(q1), 21))], -1)
    cuts = np.sort(np.clip(cuts, -10.0, 10.0), axis=-1)
    x, w = np.polynomial.legendre.leggauss(n)
    a, b = cuts[:, :-1, None], cuts[:, 1:, None]
    z = 0.5 * (b - a) * x + 0.5 * (a + b)            # (m, panels, n)
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    g = _clip_mean(beta[:, None, None] * z, s[:, None, None])
    return np.sum(0.5 * (b - a) * w * pdf * np.clip(s1[:, None, None] * z, -1, 1) * g, axis=(1, 2))


def activation_covariance(q1, q2, c, activation: str = "tanh") -> np.ndarray:
    """``E[φ(u) φ(v)]`` for (u, v) jointly Gaussian, zero mean, ``Var u = q1``, ``Var v = q2``,
    ``Cov(u, v) = c`` (variances, not stds), elementwise over broadcast arrays.

    linear: c. relu: the arc-cosine kernel ``√(q1 q2)/(2π)·(sin θ + (π − θ) cos θ)``, cos θ = ρ (Cho &
    Saul 2009). tanh: ``tanh(h) = E_K erf(h/(K√2))`` with K Kolmogorov-distributed, so the expectation
    is ``E_{K,K'} (2/π) arcsin(c / √((q1 + K²)(q2 + K'²)))`` (40 × 40 nodes; error ≲ 1e-9). sigmoid:
    ``σ(h) = (1 + tanh(h/2))/2`` gives ``(1 + E[tanh(u/2) tanh(v/2)])/4``. hardtanh (true clip):
    conditional quadrature, error ≲ 1e-10. On the diagonal (q1 = q2 = c = q) it is ``V(q) = E φ(√q z)²``.
    """
    _phi(activation)
    q1, q2, c = (np.array(a, dtype=np.float64) for a in np.broadcast_arrays(q1, q2, c))
    shape = q1.shape
    q1, q2, c = q1.ravel(), q2.ravel(), c.ravel()
    if activation == "linear":
        out = c.copy()
    elif activation == "relu":
        r = np.sqrt(q1 * q2)
        rho = np.clip(np.divide(c, r, out=np.zeros_like(r), where=r > 0), -1.0, 1.0)
        th = np.arccos(rho)
        out = r / (2 * math.pi) * (np.sin(th) + (math.pi - th) * rho)
    elif activation == "sigmoid":
        out = 0.25 * (1.0 + activation_covariance(q1 / 4, q2 / 4, c / 4, "tanh"))
    elif activation == "tanh":
        K, w = _kolmogorov_rule()
        out = np.empty_like(q1)
        for i in range(0, len(q1), 512):
            sl = slice(i, i + 512)
            arg = c[sl, None, None] / np.sqrt((q1[sl, None, None] + K[:, None] ** 2)
                                              * (q2[sl, None, None] + K[None, :] ** 2))
            out[sl] = (2 / math.pi) * np.einsum("mab,a,b->m", np.arcsin(np.clip(arg, -1, 1)), w, w)
    else:  # hardtanh
        out = np.concatenate([_hardtanh_cov(q1[i:i + 512], q2[i:i + 512], c[i:i + 512])
                              for i in range(0, len(q1), 512)]) if len(q1) else q1.copy()
    return out.reshape(shape)


def activation_variance(q: float, activation: str = "tanh") -> float:
    """``V(q) = ∫Dz φ(√q z)²`` (q a variance), by :func:`gaussian_expectation` with φ's kinks."""
    phi, _, kinks = _phi(activation)
    if activation == "linear":
        return float(q)
    return gaussian_expectation(lambda h: phi(h) ** 2, q, kinks)


@dataclass(frozen=True)
class NodeMeanField:
    """The two-time mean field of the N-ODE on a uniform grid (see :func:`node_mean_field`).

    Attributes
    ----------
    t : (N+1,) times in [0, t_end].
    Q : (N+1, N+1) overlap ``x(t)·x(s)/k`` (per unit; symmetric, ``Q[0] = 0``).
    F : (N+1, N+1) ``E[φ(p(t)) φ(p(s))] = ∂²Q/∂t∂s``; its diagonal is ``‖dx/dt‖²/k``.
    """

    t: np.ndarray
    Q: np.ndarray
    F: np.ndarray

    def speed(self) -> np.ndarray:
        """``‖dx/dt‖/√k`` at ``t``, shape (N+1,)."""
        return np.sqrt(np.maximum(np.diag(self.F), 0.0))

    def full_length(self, width: int) -> float:
        """Full-space length ``√k ∫ √F(t, t) dt`` (Simpson on the grid)."""
        from scipy.integrate import simpson

        return math.sqrt(width) * float(simpson(self.speed(), x=self.t))

    def pca(self, width: int, grid_points: int = 2001) -> tuple[float, np.ndarray]:
        """Predicted PCA length and variance explained by PC1, PC2, as :mod:`trajlen.measures`
        computes them on ``grid_points`` uniform output times: the scores of a centred PCA of the
        states are the leading eigenvectors of the centred Gram matrix ``k Q(t_a, t_b)`` scaled by
        the square roots of its eigenvalues (Q is interpolated by bicubic splines)."""
        from scipy.interpolate import RectBivariateSpline
        from scipy.sparse.linalg import eigsh

        from .measures import arc_length

        tg = np.linspace(self.t[0], self.t[-1], grid_points)
        G = RectBivariateSpline(self.t, self.t, self.Q, kx=3, ky=3)(tg, tg)
        G = 0.5 * (G + G.T)
        G = G - G.mean(axis=0) - G.mean(axis=1)[:, None] + G.mean()
        vals, vecs = eigsh(G, k=2, which="LA", v0=np.ones(grid_points))
        order = np.argsort(vals)[::-1]
        vals, vecs = np.maximum(vals[order], 0.0), vecs[:, order]
        z = vecs * np.sqrt(vals * width)
        return arc_length(z), vals / np.trace(G)


def node_mean_field(activation: str, sigma_w2: float, sigma_b2: float, t_end: float = 2 * math.pi,
                    input_var: float = 0.0, n_steps: int = 256, corrector: int = 2) -> NodeMeanField:
    """Solve the two-time closure ``∂²Q/∂t∂s = E[φ(p(t)) φ(p(s))]``, ``Q(t, 0) = Q(0, s) = 0``,
    (p(t), p(s)) Gaussian with covariance ``C(t, s) = σ_w² Q(t, s) + σ_b² + input_var·cos(t − s)``
    (docs/theory.md, Eq. 4), exact for k → ∞ under the paper semantics (weights N(0, σ_w²/k)).

    Parameters
    ----------
    activation : one of tanh, sigmoid, relu, hardtanh (true clip), linear.
    sigma_w2, sigma_b2 : weight and bias *variances* (σ_w² per unit fan-in: weights N(0, σ_w²/k)).
    t_end : horizon (2π: one period of the circle).
    input_var : ``σ_w² ‖I‖²/k``, the per-unit variance the input adds (σ_w²/k for the unit circle).
    n_steps : N uniform cells per axis; the scheme (trapezoid on each cell, row by row, predictor
        plus ``corrector`` fixed-point passes) is second order: N = 256 gives lengths to ~1e-5.
    """
    _phi(activation)
    if not (sigma_w2 > 0 and sigma_b2 >= 0 and input_var >= 0 and sigma_b2 + input_var > 0):
        raise ValueError("need σ_w² > 0 and σ_b² + input_var > 0 (variances), got "
                         f"{sigma_w2}, {sigma_b2}, {input_var}")
    cov = lambda q1, q2, c: activation_covariance(q1, q2, c, activation)  # noqa: E731
    t = np.linspace(0.0, t_end, n_steps + 1)
    h2 = (t[1] - t[0]) ** 2
    Q = np.zeros((n_steps + 1, n_steps + 1))
    F = np.zeros_like(Q)
    q = np.empty(n_steps + 1)
    q[0] = sigma_b2 + input_var
    F[0, 0] = cov(q[0], q[0], q[0])
    for i in range(n_steps):
        if i == 0:
            Fr = np.full(2, F[0, 0])
        else:  # linear extrapolation of F from rows i−1, i (along the diagonal for the new corner)
            Fr = np.append(2 * F[i, :i + 1] - F[i - 1, :i + 1], 2 * F[i, i] - F[i - 1, i - 1])
        for _ in range(corrector + 1):
            Fi = np.append(F[i, :i + 1], Fr[i])              # F(t_i, s_j), j ≤ i+1 (symmetry)
            avg = 0.25 * (Fi[:-1] + Fi[1:] + Fr[:-1] + Fr[1:])  # cell centres, j = 0..i
            Qr = np.zeros(i + 2)
            Qr[1:i + 1] = np.cumsum(np.diff(Q[i, :i + 1]) + h2 * avg[:i])
            Qr[i + 1] = 2 * Qr[i] - Q[i, i] + h2 * avg[i]
            qn = sigma_w2 * Qr[i + 1] + sigma_b2 + input_var
            qj = np.append(q[:i + 1], qn)
            Cr = sigma_w2 * Qr + sigma_b2 + input_var * np.cos(t[i + 1] - t[:i + 2])
            Fr = cov(np.full(i + 2, qn), qj, Cr)
        q[i + 1] = qn
        Q[i + 1, :i + 2] = Q[:i + 2, i + 1] = Qr
        F[i + 1, :i + 2] = F[:i + 2, i + 1] = Fr
    return NodeMeanField(t=t, Q=Q, F=F)


def node_length(activation: str, width: int, sigma_w2: float, sigma_b2: float,
                t_end: float = 2 * math.pi, closure: str = "two_time", input_norm2: float = 0.0,
                n_steps: int = 256) -> float:
    """Mean-field full-space length of the paper-semantics N-ODE's trajectory over ``[0, t_end]``.

    ``closure="two_time"`` (default): ``√k ∫ √F(t, t) dt`` from :func:`node_mean_field` (Richardson-
    extrapolated from ``n_steps`` and ``n_steps/2`` cells), the k → ∞ limit; within 0.3 % of the
    simulated median for bounded φ at k = 400 (docs/theory.md).
    ``closure="straight"`` (the candidate of issue 16): ``√k ℓ(t_end)``, ``dℓ/dt = √V(σ_w² ℓ² + σ_b²
    + v_in)``, ``ℓ(0) = 0`` (solve_ivp, DOP853, rtol 1e-12), i.e. ``‖x(t)‖`` set equal to the arc
    length so far — a straight path. It is an upper bound on the two-time value (docs/theory.md):
    ~1 % high for bounded φ, 30–65 % for ReLU, sinh vs Bessel for the identity.

    Parameters
    ----------
    activation : tanh, sigmoid, relu, hardtanh (true clip) or linear.
    width : k; the length scales as √k.
    sigma_w2, sigma_b2 : *variances* (weights N(0, σ_w²/k), biases N(0, σ_b²)).
    input_norm2 : ‖I‖² of the input (1 for the paper's circle); it adds ``v_in = σ_w² ‖I‖²/k`` to the
        pre-activation variance — 0 (default) is the k → ∞ limit, 1 the finite-k network.
    n_steps : grid of the two-time closure (see :func:`node_mean_field`).

    Returns
    -------
    float : the predicted ``Σ ‖x(t_{i+1}) − x(t_i)‖`` on a fine grid, in state units.
    """
    if closure not in CLOSURES:
        raise ValueError(f"closure must be one of {', '.join(CLOSURES)}, got {closure!r}")
    _phi(activation)
    v_in = sigma_w2 * input_norm2 / width
    if not (sigma_w2 > 0 and sigma_b2 >= 0 and v_in >= 0 and sigma_b2 + v_in > 0):
        raise ValueError("need σ_w² > 0 and σ_b² + σ_w²‖I‖²/k > 0 (variances), got "
                         f"{sigma_w2}, {sigma_b2}, input_norm2={input_norm2}")
    if closure == "two_time":  # Richardson on N and N/2 (the scheme is second order)
        fine, coarse = (node_mean_field(activation, sigma_w2, sigma_b2, t_end, v_in, n).full_length(width)
                        for n in (n_steps, n_steps // 2))
        return (4.0 * fine - coarse) / 3.0
    from scipy.integrate import solve_ivp

    def rhs(_t, y):
        return [math.sqrt(activation_variance(sigma_w2 * y[0] ** 2 + sigma_b2 + v_in, activation))]

    sol = solve_ivp(rhs, (0.0, t_end), [0.0], method="DOP853", rtol=1e-12, atol=1e-14)
    return math.sqrt(width) * float(sol.y[0, -1])
