"""Static deep networks (``model="mlp"``): the measure against theory that owes nothing to this project.

* mean-field (Poole et al. 2016): the full-space length of layer ℓ of a hard-tanh network with weights
  N(0, σ_w²/k), biases N(0, σ_b²) is ``l(I) Π_{j≤ℓ} sqrt(χ(q^j))`` at large width, and the per-layer
  stretch tends to √χ₁ (:func:`trajlen.theory.mean_field_lengths`);
* a random *linear* network multiplies lengths by σ_w per layer (E‖v W‖² = σ_w²‖v‖²), and — its image
  of the circle being an ellipse — PCA loses nothing;
* ReLU at He initialisation (σ_w² = 2, σ_b ≈ 0) preserves expected length (Hanin, Jeong & Rolnick 2021;
  χ = σ_w²/2 = 1).

Networks are drawn by :func:`trajlen.params.sample_params` under ``semantics="paper"`` (var_over_k, true
clip) and evaluated by :func:`trajlen.models.mlp.forward`, i.e. the project's own code path.

Sample counts and tolerances (chosen from the fluctuation scale, not tuned to pass):
width k = 500, 2000 circle points, 4 networks. The relative fluctuation of one layer's length ratio is
O(1/√k) ≈ 4.5% per network (measured spread of layer lengths: 1–10% per network), so the mean of 4
networks has a standard error ≲ 2–3%; finite-width corrections to mean field are O(1/k) ≈ 0.2%, and
chord discretisation with 2000 points changes lengths ≲ 1% at depth ≤ 4. Over root seeds 0–3 the
largest deviations seen were 3.6% (layer length) and 3.5% (per-layer stretch), ReLU 2.6%. We require
every layer's mean length within **6%** of mean field and the mean per-layer stretch (layers 2–4)
within **5%** of its mean-field value; ReLU within **4%**. Linear: k = 600, 6 networks, 400 points
(an ellipse: chord error ~1e-5), σ_w^ℓ within **4%** per layer.
"""

import math

import numpy as np
import pytest
from scipy.special import erf

from trajlen.bounds import beta
from trajlen.measures import arc_length, full_space_lengths, pca_project
from trajlen.models import mlp
from trajlen.params import sample_params
from trajlen.spec import NetworkSpec
from trajlen.theory import (
    gaussian_expectation,
    linear_forward,
    mean_field_chi,
    mean_field_fixed_point,
    mean_field_lengths,
    mean_field_q,
)


def _circle(T):
    t = np.linspace(0.0, 2 * np.pi, T)
    return np.c_[np.sin(t), np.cos(t)]


def _hardtanh_closed_forms(q):
    """∫Dz clip(√q z)² and ∫Dz 1{|√q z| < 1} in closed form (a = 1/√q)."""
    a = 1.0 / math.sqrt(q)
    P = erf(a / math.sqrt(2.0))
    pdf = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    return q * (P - 2 * a * pdf) + (1 - P), P


@pytest.mark.parametrize("q", [0.05, 0.5, 1.3, 3.0, 40.0])
def test_quadrature_matches_closed_forms(q):
    e_phi2, e_dphi2 = _hardtanh_closed_forms(q)
    assert mean_field_q(q, 1.0, 0.0, "hardtanh") == pytest.approx(e_phi2, rel=1e-12, abs=1e-14)
    assert mean_field_chi(q, 1.0, "hardtanh") == pytest.approx(e_dphi2, rel=1e-12)
    assert mean_field_chi(q, 2.0, "relu") == pytest.approx(1.0, rel=1e-12)       # σ_w²·P(z>0)
    assert mean_field_q(q, 2.0, 0.0, "relu") == pytest.approx(q, rel=1e-12)      # σ_w²·q/2
    assert mean_field_q(q, 1.5, 0.3, "linear") == pytest.approx(1.5 * q + 0.3, rel=1e-12)
    # smooth integrand E[tanh'(√q z)²] against adaptive quadrature; Gauss–Hermite only at small q
    from scipy.integrate import quad

    ref = quad(lambda z: (1 - np.tanh(math.sqrt(q) * z) ** 2) ** 2 * np.exp(-z * z / 2)
               / math.sqrt(2 * math.pi), -12, 12, points=[0.0], epsabs=1e-13, limit=400)[0]
    f = lambda h: (1 - np.tanh(h) ** 2) ** 2  # noqa: E731
    assert gaussian_expectation(f, q) == pytest.approx(ref, rel=1e-9)
    if q <= 0.5:
        assert gaussian_expectation(f, q, method="hermite", n=80) == pytest.approx(ref, rel=1e-6)


def test_fixed_point_is_a_fixed_point():
    qs = mean_field_fixed_point(4.0, 0.1, "hardtanh")
    assert mean_field_q(qs, 4.0, 0.1, "hardtanh") == pytest.approx(qs, rel=1e-12)
    assert qs == pytest.approx(2.8902091190128, rel=1e-9)
    assert mean_field_chi(qs, 4.0) == pytest.approx(1.774445389044, rel=1e-9)


def _mlp_lengths(activation, s2w, s2b, k, depth, T, S):
    net = NetworkSpec(model="mlp", activation=activation, width=k, depth=depth, sigma_w2=s2w,
                      sigma_b2=s2b, semantics="paper")
    assert net.weight_init == "var_over_k" and net.phi == activation
    I = _circle(T)
    L = [full_space_lengths(mlp.forward(net, sample_params(net, 0, s), I), depth, k) for s in range(S)]
    return np.array(L), arc_length(I)


@pytest.mark.parametrize("s2w, s2b", [(2.0, 1.0), (4.0, 0.1)])
def test_hardtanh_lengths_follow_mean_field(s2w, s2b):
    """Paper defaults (σ_w² = 2, σ_b² = 1: χ₁ = 0.975, ordered) and a chaotic point (σ_w² = 4,
    σ_b² = 0.1: χ₁ = 1.774). Tolerances: see the module docstring."""
    k, depth = 500, 4
    L, l_in = _mlp_lengths("hardtanh", s2w, s2b, k, depth, 2000, 4)
    mf = mean_field_lengths(s2w, s2b, depth, k, "hardtanh", l_in)
    np.testing.assert_allclose(L.mean(axis=0), mf, rtol=0.06)
    stretch = (L[:, 1:] / L[:, :-1]).mean(axis=0)
    np.testing.assert_allclose(stretch, mf[1:] / mf[:-1], rtol=0.05)


def test_pca_length_is_shorter_than_full_length_for_a_chaotic_network():
    """Why the validation measures the full-space length: the 2-PC projection drops most of it."""
    k = 100
    net = NetworkSpec(model="mlp", activation="hardtanh", width=k, depth=3, sigma_w2=4.0, sigma_b2=0.1,
                      semantics="paper")
    x = mlp.forward(net, sample_params(net, 0, 0), _circle(500))
    full = full_space_lengths(x, 3, k)
    pca = np.array([arc_length(pca_project(x[:, i])[0]) for i in range(3)])
    assert np.all(pca <= full) and pca[-1] < 0.9 * full[-1]


def test_linear_network_stretches_by_sigma_w_per_layer():
    """E‖v W‖² = σ_w²‖v‖² for W ~ N(0, σ_w²/k): each layer multiplies the length by ≈ σ_w (k = 600,
    6 networks, tolerance 4%: per-network spread ≈ 2–3.5% by layer 3, so ≥ 2.8 standard errors — see
    module docstring). The image of the circle is an ellipse, so the PCA-projected length equals the
    full length (1e-9; checked on the first network only, PCA being the slow part)."""
    k, depth, s2w = 600, 3, 1.7
    net = NetworkSpec(model="mlp", activation="hardtanh", width=k, depth=depth, sigma_w2=s2w,
                      sigma_b2=0.5, semantics="paper")
    I = _circle(400)
    l_in = arc_length(I)
    L = []
    for s in range(6):
        x = linear_forward(sample_params(net, 0, s), I)
        full = full_space_lengths(x, depth, k)
        if s == 0:
            pca = [arc_length(pca_project(x[:, i])[0]) for i in range(depth)]
            np.testing.assert_allclose(pca, full, rtol=1e-9)
        L.append(full)
    want = l_in * math.sqrt(s2w) ** np.arange(1, depth + 1)
    np.testing.assert_allclose(np.mean(L, axis=0), want, rtol=0.04)
    assert mean_field_lengths(s2w, 0.5, depth, k, "linear", l_in) == pytest.approx(want, rel=1e-12)


def test_relu_he_init_preserves_expected_length():
    """Hanin, Jeong & Rolnick 2021: at He init (σ_w² = 2, σ_b = 0; the spec needs σ_b² > 0, so 1e-12)
    the expected length neither grows nor shrinks with depth (χ = 1). k = 500, 6 layers, 4 networks:
    each layer's mean within 4% of l(I) (per-network spread ≈ 1–2%; largest deviation over seeds 0–3:
    2.6%), fitted per-layer growth |log-slope| < 0.01."""
    k, depth = 500, 6
    L, l_in = _mlp_lengths("relu", 2.0, 1e-12, k, depth, 2000, 4)
    np.testing.assert_allclose(L.mean(axis=0), l_in, rtol=0.04)
    slope = np.polyfit(np.arange(1, depth + 1), np.log(L.mean(axis=0)), 1)[0]
    assert abs(slope) < 0.01


def test_raghu_base_exceeds_the_mean_field_stretch():
    """A finding, recorded: at large width Raghu et al.'s hard-tanh base β (the paper's Eq. 7 base)
    exceeds the actual asymptotic per-layer stretch √χ₁ at the paper's σ_w² = 2, σ_b² = 1 and at
    (4, 0.1) — so ``β^d·C`` with any fixed C is eventually violated as depth grows (cf. the
    measured stretch in test_hardtanh_lengths_follow_mean_field)."""
    for s2w, s2b, k in [(2.0, 1.0, 500), (4.0, 0.1, 500), (2.0, 1.0, 100)]:
        chi1 = mean_field_chi(mean_field_fixed_point(s2w, s2b), s2w)
        assert beta(k, math.sqrt(s2w), math.sqrt(s2b)) > math.sqrt(chi1) + 0.05


@pytest.mark.slow
def test_hardtanh_mean_field_at_larger_width_and_depth():
    """k = 1000, depth 6, 8000 points, 4 networks: per-layer means within 4% of mean field."""
    k, depth = 1000, 6
    L, l_in = _mlp_lengths("hardtanh", 4.0, 0.1, k, depth, 8000, 4)
    np.testing.assert_allclose(L.mean(axis=0), mean_field_lengths(4.0, 0.1, depth, k, "hardtanh", l_in),
                               rtol=0.04)
