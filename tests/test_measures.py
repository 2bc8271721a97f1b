import numpy as np
import pytest
from scipy.stats import special_ortho_group

from trajlen.measures import arc_length, computational_depth, pca_project, steps_per_interval


def test_circle_arc_length():
    t = np.linspace(0, 2 * np.pi, 100)
    assert arc_length(np.c_[np.sin(t), np.cos(t)]) == pytest.approx(6.282131, abs=5e-7)
    t = np.linspace(0, 2 * np.pi, 100_001)
    assert arc_length(np.c_[np.sin(t), np.cos(t)]) == pytest.approx(2 * np.pi, rel=1e-9)


def _planar_curve(T=500):
    t = np.linspace(0, 2 * np.pi, T)
    return np.c_[3 * np.cos(t) + np.cos(5 * t), np.sin(t) + 0.5 * np.sin(3 * t)]


def test_planar_curve_pca_length_is_its_length_and_invariant():
    rng = np.random.default_rng(0)
    c = _planar_curve()
    k = 30
    basis = np.linalg.qr(rng.standard_normal((k, 2)))[0]  # orthonormal 2-frame in R^k
    X = c @ basis.T + rng.standard_normal(k)
    z, ratio = pca_project(X)
    assert arc_length(z) == pytest.approx(arc_length(c), rel=1e-12)
    assert ratio.sum() == pytest.approx(1.0, abs=1e-12)
    Q = special_ortho_group.rvs(k, random_state=1)
    z2, _ = pca_project(X @ Q.T + 5.0)
    assert arc_length(z2) == pytest.approx(arc_length(z), rel=1e-12)


def test_pca_length_never_exceeds_full_length():
    rng = np.random.default_rng(3)
    X = np.cumsum(rng.standard_normal((300, 10)), axis=0)
    z, ratio = pca_project(X)
    assert arc_length(z) <= arc_length(X) + 1e-9
    assert 0 < ratio[1] <= ratio[0] < 1


def test_constant_states_give_nan_variance_and_zero_length():
    z, ratio = pca_project(np.zeros((10, 4)))
    assert arc_length(z) == 0.0 and np.all(np.isnan(ratio))


def test_computational_depth_is_main_m_count_of_the_steps():
    """L = Refine points of every accepted step in (0, 2π] over the 100-entry array main.m averages
    (its last entry always 0): 4 × 25 steps / 100; without Refine, steps / 100."""
    assert computational_depth(25, 4, 100) == 1.0
    assert computational_depth(99, 1, 100) == pytest.approx(0.99)
    assert steps_per_interval(99, 100) == 1.0


def test_L_does_not_depend_on_the_output_points():
    """The same network with output steps, refine and grid: the same L and steps per interval."""
    from trajlen.pipeline import Task, run_tasks
    from trajlen.spec import make_specs

    rows = []
    for output in ("refine", "steps", "grid"):
        net, inp, sol = make_specs("reference", model="ltc", activation="tanh", width=10,
                                   output=output, backend="scipy")
        rows += run_tasks([Task(net, inp, sol, 0, 0)])
    assert len({(r["L"], r["steps_per_interval"], r["n_accepted"]) for r in rows}) == 1
    assert rows[0]["L"] == 4 * rows[0]["n_accepted"] / 100


def test_pca_is_scikit_learns_covariance_eigh_to_the_bit():
    """One array: the scores and variance ratios scikit-learn's PCA(covariance_eigh) gives, bit for
    bit (trajlen computes them itself so that it can run over row blocks without copying)."""
    sk = pytest.importorskip("sklearn.decomposition")
    rng = np.random.default_rng(0)
    for T, k in ((2001, 100), (50, 8), (3, 5)):
        X = rng.standard_normal((T, k)).cumsum(axis=0)
        ref = sk.PCA(n_components=2, svd_solver="covariance_eigh")
        z_ref = ref.fit_transform(X)
        z, ratio = pca_project(X)
        assert np.array_equal(z, z_ref) and np.array_equal(ratio, ref.explained_variance_ratio_)
        strided = np.concatenate([X, X], axis=1)[:, :k]      # a layer of the stacked states
        assert np.array_equal(pca_project(strided)[0], z_ref)


def test_measures_over_row_blocks_equal_the_joined_array():
    """Row blocks (how the compiled kernel hands its output over): the chord length to the bit, the
    PCA scores to rounding (the Gram matrix is summed block by block)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3000, 40)).cumsum(axis=0)
    blocks = [X[:1], X[1:700], X[700:701], X[701:]]
    assert arc_length(blocks) == arc_length(X)
    z, ratio = pca_project(X)
    zb, rb = pca_project(blocks)
    np.testing.assert_allclose(zb, z, rtol=0, atol=1e-12 * np.abs(z).max())
    np.testing.assert_allclose(rb, ratio, rtol=1e-12)
    assert arc_length(zb) == pytest.approx(arc_length(z), rel=1e-13)
