"""Mean field of the paper-semantics Neural ODE (``trajlen.theory.node_length``; docs/theory.md).

* exact cases: for the identity activation the straight-path candidate gives ℓ(t) = (σ_b/σ_w)·sinh(σ_w t)
  and the two-time closure gives Q(t, s) = (σ_b²/σ_w²)(I₀(2σ_w√(ts)) − 1), both in closed form;
* the Gaussian expectations V(q) and E[φ(u)φ(v)] against closed forms and independent adaptive quadrature;
* against simulation at large width: the median full-space and PCA lengths of paper-semantics N-ODEs.

Simulation tolerances (chosen from measured spreads, not tuned to pass): at k = 400, σ_b² = 1, the
per-network relative spread of the full-space length is 0.75–0.9 % (tanh, hard-tanh, σ_w² = 1; measured
over 24 networks), so the median of n = 12 networks has a standard error ≈ 1.25·0.9 %/√12 ≈ 0.33 %; the
finite-width bias measured over 24 networks at k = 100 and 400 was ≤ 0.3 % (O(1/k)). We require the
median within **1 %** of the two-time prediction (≈ 2 standard errors + the bias) for the full-space and
the PCA length, and the median *below* the straight-path candidate, which is 0.9–1.3 % high there.
"""

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import erf, expit, i0

from trajlen.measures import arc_length, full_space_lengths, pca_project
from trajlen.pipeline import Task, trajectory_for
from trajlen.spec import InputSpec, NetworkSpec, SolverSpec
from trajlen.theory import (
    activation_covariance,
    activation_variance,
    node_length,
    node_mean_field,
)

TWO_PI = 2.0 * math.pi
PHI = {"tanh": np.tanh, "sigmoid": expit, "hardtanh": lambda h: np.clip(h, -1.0, 1.0),
       "relu": lambda h: np.maximum(h, 0.0), "linear": lambda h: h}
KINKS = {"tanh": (), "sigmoid": (), "hardtanh": (-1.0, 1.0), "relu": (0.0,), "linear": ()}


# -- exact cases ------------------------------------------------------------------------------------
@pytest.mark.parametrize("s2w, s2b", [(1.0, 1.0), (2.0, 0.5), (4.0, 1.0), (16.0, 0.1)])
def test_linear_straight_closure_is_sinh(s2w, s2b):
    """V(q) = q: dℓ/dt = √(σ_w² ℓ² + σ_b²), ℓ(0) = 0 ⇒ ℓ = (σ_b/σ_w) sinh(σ_w t)."""
    k, sw, sb = 400, math.sqrt(s2w), math.sqrt(s2b)
    exact = math.sqrt(k) * sb / sw * math.sinh(TWO_PI * sw)
    assert node_length("linear", k, s2w, s2b, closure="straight") == pytest.approx(exact, rel=1e-8)
    # the input only adds σ_w²‖I‖²/k to σ_b²
    sb_in = math.sqrt(s2b + s2w / k)
    assert node_length("linear", k, s2w, s2b, closure="straight", input_norm2=1.0) == pytest.approx(
        math.sqrt(k) * sb_in / sw * math.sinh(TWO_PI * sw), rel=1e-8)


@pytest.mark.parametrize("s2w, s2b", [(1.0, 1.0), (4.0, 0.5)])
def test_linear_two_time_closure_is_bessel(s2w, s2b):
    """∂²Q/∂t∂s = σ_w² Q + σ_b², Q(t, 0) = Q(0, s) = 0 ⇒ Q = (σ_b²/σ_w²)(I₀(2σ_w√(ts)) − 1) — also what
    the moments of a Ginibre matrix give for x(t) = Σ W^n b t^{n+1}/(n+1)! — so the length is
    √k σ_b ∫₀^{2π} √I₀(2σ_w t) dt. The scheme is second order (grid error 4.4e-4 at N = 256, σ_w² = 1)
    and Richardson-extrapolated in node_length."""
    k, sw, sb = 100, math.sqrt(s2w), math.sqrt(s2b)
    exact = math.sqrt(k) * sb * quad(lambda t: math.sqrt(i0(2 * sw * t)), 0, TWO_PI, epsrel=1e-13)[0]
    assert node_length("linear", k, s2w, s2b, closure="two_time", n_steps=256) == pytest.approx(
        exact, rel=1e-5)
    fine, coarse = (node_mean_field("linear", s2w, s2b, n_steps=n) for n in (128, 64))
    q_exact = s2b / s2w * (i0(2 * sw * np.sqrt(np.outer(coarse.t, coarse.t))) - 1.0)
    # grid error of Q: 0.17 % (σ_w² = 1) and 2.1 % (σ_w² = 4) at N = 128; 6e-6 and 9e-4 extrapolated
    np.testing.assert_allclose(fine.Q[::2, ::2][1:, 1:], q_exact[1:, 1:], rtol=0.03 if s2w > 1 else 3e-3)
    extrapolated = (4.0 * fine.Q[::2, ::2] - coarse.Q) / 3.0
    np.testing.assert_allclose(extrapolated[1:, 1:], q_exact[1:, 1:], rtol=2e-3 if s2w > 1 else 2e-5)
    assert fine.Q[0].max() == 0.0 and np.array_equal(fine.Q, fine.Q.T)


# -- Gaussian expectations --------------------------------------------------------------------------
def _hardtanh_v(q):
    a = 1.0 / math.sqrt(q)
    P = erf(a / math.sqrt(2.0))
    return q * (P - 2 * a * math.exp(-a * a / 2) / math.sqrt(2 * math.pi)) + (1 - P)


@pytest.mark.parametrize("q", [0.05, 0.7, 3.0, 40.0, 600.0])
def test_variance_closed_forms(q):
    assert activation_variance(q, "linear") == q
    assert activation_variance(q, "relu") == pytest.approx(q / 2, rel=1e-12)
    assert activation_variance(q, "hardtanh") == pytest.approx(_hardtanh_v(q), rel=1e-12)
    for act in ("tanh", "sigmoid"):
        ref = quad(lambda z, f=PHI[act]: f(math.sqrt(q) * z) ** 2 * math.exp(-z * z / 2), -12, 12,
                   points=[0.0], epsabs=1e-14, limit=400)[0] / math.sqrt(2 * math.pi)
        assert activation_variance(q, act) == pytest.approx(ref, rel=1e-10)
    for act in PHI:  # the two-time expectation on its diagonal is V
        assert activation_covariance(q, q, q, act) == pytest.approx(activation_variance(q, act),
                                                                    rel=1e-9)


def _covariance_by_quad(act, q1, q2, c):
    """E[φ(u)φ(v)] by nested adaptive quadrature: z₁ = u/√q₁ outside, v | z₁ ~ N(βz₁, s²) inside."""
    phi, r = PHI[act], math.sqrt(q1)
    beta, s = c / r, math.sqrt(q2 - c * c / q1)

    def inner(z1):
        m = beta * z1
        pts = [(h - m) / s for h in (*KINKS[act], 0.0)]
        return quad(lambda z2: phi(m + s * z2) * math.exp(-z2 * z2 / 2), -12, 12, points=pts,
                    epsabs=1e-13, limit=200)[0] / math.sqrt(2 * math.pi)

    pts = [h / r for h in (*KINKS[act], 0.0)] + [h / beta for h in KINKS[act] if beta]
    pts = [p for p in pts if -12 < p < 12]
    return quad(lambda z1: phi(r * z1) * inner(z1) * math.exp(-z1 * z1 / 2), -12, 12, points=pts,
                epsabs=1e-12, limit=200)[0] / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "hardtanh", "relu"])
@pytest.mark.parametrize("q1, q2, c", [(1.0, 2.0, 0.9), (30.0, 50.0, 38.0), (0.3, 100.0, -5.0),
                                      (4.0, 4.0, 3.999)])  # the last: ρ = 0.99975, near the diagonal
def test_covariance_against_adaptive_quadrature(act, q1, q2, c):
    got = float(activation_covariance(q1, q2, c, act))
    assert got == pytest.approx(_covariance_by_quad(act, q1, q2, c), rel=1e-7, abs=1e-9)


def test_covariance_broadcasts_and_validates():
    q = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = activation_covariance(q, q, 0.5 * q, "tanh")
    assert out.shape == (2, 2)
    assert out[1, 1] == pytest.approx(float(activation_covariance(4.0, 4.0, 2.0, "tanh")), rel=1e-14)
    with pytest.raises(Exception, match="activation"):
        activation_covariance(1.0, 1.0, 0.5, "softplus")
    with pytest.raises(ValueError, match="closure"):
        node_length("tanh", 100, 1.0, 1.0, closure="one_time")
    with pytest.raises(ValueError, match="σ_b"):
        node_length("tanh", 100, 1.0, 0.0)


# -- the closures' structure ------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["hardtanh", "relu", "linear"])
def test_straight_candidate_bounds_the_two_time_closure(act):
    """‖x(t)‖ ≤ arc length and V non-decreasing ⇒ the straight closure is an upper bound (docs)."""
    for s2w in (1.0, 4.0):
        two = node_length(act, 100, s2w, 1.0, n_steps=64)
        assert two < node_length(act, 100, s2w, 1.0, closure="straight")
        mf = node_mean_field(act, s2w, 1.0, n_steps=64)
        speed2 = [activation_variance(s2w * mf.Q[i, i] + 1.0, act) for i in range(0, 65, 16)]
        np.testing.assert_allclose(mf.speed()[::16] ** 2, speed2, rtol=1e-9)


# -- against simulation -----------------------------------------------------------------------------
def _simulate(act, k, s2w, n, s2b=1.0):
    net = NetworkSpec(model="node", semantics="paper", activation=act, width=k, sigma_w2=s2w,
                      sigma_b2=s2b)
    sol = SolverSpec(semantics="paper", output="grid", grid_points=2001, backend="scipy", rtol=1e-6,
                     atol=1e-8)
    full, pca = [], []
    for s in range(n):
        x = trajectory_for(Task(net, InputSpec(semantics="paper"), sol, seed=0, sample=s)).x
        full.append(full_space_lengths(x, 1, k)[0])
        pca.append(arc_length(pca_project(x)[0]))
    return float(np.median(full)), float(np.median(pca))


def _check_against_simulation(act, s2w, k=400, n=12):
    full, pca = _simulate(act, k, s2w, n)
    mf = node_mean_field(act, s2w, 1.0, input_var=s2w / k, n_steps=128)
    assert full == pytest.approx(mf.full_length(k), rel=0.01)
    assert pca == pytest.approx(mf.pca(k)[0], rel=0.01)
    assert full < node_length(act, k, s2w, 1.0, closure="straight", input_norm2=1.0)


def test_hardtanh_matches_simulation():
    _check_against_simulation("hardtanh", 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("act, s2w", [("tanh", 1.0), ("tanh", 2.0), ("hardtanh", 2.0)])
def test_bounded_activations_match_simulation(act, s2w):
    _check_against_simulation(act, s2w)
