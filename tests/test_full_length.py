"""The rows' full-space length ``lengths_full`` (the chord length of each layer's k-dimensional states,
no PCA) against independent truth, through the pipeline's own row (:func:`trajlen.pipeline.measure`,
:func:`trajlen.pipeline.run_tasks`):

* a planar curve: PCA onto its own plane loses nothing, so ``lengths_full`` equals the PCA length
  ``lengths`` (to rounding);
* a static hard-tanh network at large width: its per-layer growth follows mean-field theory, the
  stretch √χ(q^ℓ) per layer (Poole et al. 2016; :func:`trajlen.theory.mean_field_lengths`).

Tolerance of the mean-field check (5 % on the per-layer growth, fitted over layers 1–4 to the mean
length and to the mean field alike): k = 500, 4 networks, 2001 circle points, σ_w² = 4, σ_b² = 1
(χ₁ = 1.54: growing, but not so chaotic that 2001 chords undercount the curve — the static_grid
study shows they do at σ_w² = 16). One layer's length ratio fluctuates by O(1/√k) ≈ 4.5 % per
network, so the mean over 4 networks has a standard error ≈ 2 % and the fit over 4 layers less;
finite width adds O(1/k) = 0.2 %. Over root seeds 0–2 the fitted growth was within 1.1 %.
"""

import numpy as np
import pytest

from trajlen.models import mlp
from trajlen.pipeline import Task, measure, run_tasks
from trajlen.spec import make_specs
from trajlen.theory import mean_field_lengths
from trajlen.trajectory import Trajectory


def test_planar_trajectory_full_length_equals_pca_length():
    """A curve in a 2-plane of R^k (rotated and shifted) as a 2-layer network's states."""
    rng = np.random.default_rng(0)
    k, T = 30, 800
    t = np.linspace(0, 2 * np.pi, T)
    layers = []
    for a in (1.0, 3.0):
        c = np.c_[a * np.cos(t) + np.cos(5 * t), np.sin(t) + 0.5 * np.sin(3 * t)]
        basis = np.linalg.qr(rng.standard_normal((k, 2)))[0]
        layers.append(c @ basis.T + rng.standard_normal(k))
    net, inp, sol = make_specs("paper", model="node", activation="tanh", width=k, depth=2)
    traj = Trajectory(t=t, x=np.hstack(layers), step_t=t)
    row = measure(Task(net, inp, sol), traj, 0.0)
    assert row["status"] == "ok"
    np.testing.assert_allclose(row["lengths_full"], row["lengths"], rtol=1e-12)
    assert row["length_full"] == row["lengths_full"][-1]


def test_unsaturated_static_network_full_length_equals_pca_length():
    """A hard-tanh network whose units never reach ±1 is affine, so the circle's image is an ellipse
    (planar) in every layer: the row's full-space and PCA lengths agree."""
    net, inp, sol = make_specs("paper", model="mlp", activation="hardtanh", width=40, depth=2,
                               sigma_w2=0.05, sigma_b2=0.01, grid_points=1001)
    task = Task(net, inp, sol, 0, 0)
    states = mlp.forward(net, task.params(), np.c_[np.sin(np.linspace(0, 2 * np.pi, 50)),
                                                   np.cos(np.linspace(0, 2 * np.pi, 50))])
    assert np.abs(states).max() < 0.99   # no unit clipped: the network is affine
    (row,) = run_tasks([task])
    np.testing.assert_allclose(row["lengths_full"], row["lengths"], rtol=1e-9)


def test_static_network_full_length_grows_as_mean_field():
    k, depth, s2w, s2b, n = 500, 4, 4.0, 1.0, 4
    net, inp, sol = make_specs("paper", model="mlp", activation="hardtanh", width=k, depth=depth,
                               sigma_w2=s2w, sigma_b2=s2b, grid_points=2001)
    rows = run_tasks([Task(net, inp, sol, 0, s) for s in range(n)])
    L = np.array([r["lengths_full"] for r in rows])
    mf = mean_field_lengths(s2w, s2b, depth, k, "hardtanh", rows[0]["l_input"])
    layers = np.arange(1, depth + 1)
    growth = np.exp(np.polyfit(layers, np.log(L.mean(axis=0)), 1)[0])
    assert growth == pytest.approx(np.exp(np.polyfit(layers, np.log(mf), 1)[0]), rel=0.05)
    # and the PCA length is the shorter one (the 2-D projection drops most of the added length)
    assert all(np.all(np.array(r["lengths"]) <= np.array(r["lengths_full"]) + 1e-9) for r in rows)
