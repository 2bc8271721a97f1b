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
