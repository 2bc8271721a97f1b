import itertools

import numpy as np
import pytest
import torch

from trajlen.activations import ACTIVATIONS, activation, derivative
from trajlen.models import VectorField
from trajlen.params import sample_params
from trajlen.pipeline import Task, trajectory_for
from trajlen.spec import InputSpec, NetworkSpec, make_specs

CASES = list(itertools.product(["paper", "reference"], ["node", "ctrnn", "ltc"],
                               ["tanh", "sigmoid", "relu", "hardtanh", "hardtanh_matlab"]))


def _field(sem, model, act, width=6, depth=2, **sw):
    net = NetworkSpec(model=model, activation=act, width=width, depth=depth, semantics=sem, **sw)
    return net, VectorField.from_params(net, InputSpec(semantics=sem), sample_params(net, 0, 1))


@pytest.mark.parametrize("sem, model, act", CASES)
def test_jacobian_matches_finite_differences(sem, model, act):
    net, F = _field(sem, model, act)
    rng = np.random.default_rng(0)
    y, t = 0.3 * rng.standard_normal((1, net.n_state)), np.array([0.7])
    J = F.jacobian(t, y)[0]
    eps = 1e-6
    Jn = np.stack([(F(t, y + eps * e) - F(t, y - eps * e))[0] / (2 * eps)
                   for e in np.eye(net.n_state)[:, None, :]], axis=1)
    np.testing.assert_allclose(J, Jn, atol=1e-6 * max(1.0, np.abs(J).max()))


@pytest.mark.parametrize("sem, model, act", CASES)
def test_value_and_jacobian_is_the_two_calls_bit_for_bit(sem, model, act):
    """The value is ``__call__``'s (another code path: ``leak_drive``), bit for bit, and each
    network's Jacobian in a batch is its own alone. The Jacobian's bits against earlier code are held
    by the solver fixture (its BDF and Radau entries) and its values by finite differences (above)."""
    net, F = _field(sem, model, act)
    y = np.random.default_rng(2).standard_normal((3, net.n_state))
    t = np.array([0.7, 2.1, 5.9])
    for b in range(3):
        v, J = F.value_and_jacobian(t[b:b + 1], y[b:b + 1])
        assert np.array_equal(v, F(t[b:b + 1], y[b:b + 1]))
        assert np.array_equal(J, F.jacobian(t[b:b + 1], y[b:b + 1]))
    v, J = F.value_and_jacobian(t, y)
    assert np.array_equal(v, F(t, y)) and np.array_equal(J, F.jacobian(t, y))
    for b in range(3):
        assert np.array_equal(J[b], F.value_and_jacobian(t[b:b + 1], y[b:b + 1])[1][0])


@pytest.mark.parametrize("sem, model, act", CASES[::3])
def test_numpy_and_torch_share_one_definition(sem, model, act):
    net, F = _field(sem, model, act)
    p = sample_params(net, 0, 1)
    Ft = VectorField.from_params(net, InputSpec(semantics=sem), p, xp=torch, dtype=torch.float64)
    y = np.random.default_rng(1).standard_normal((1, net.n_state))
    t = np.array([1.3])
    np.testing.assert_allclose(Ft(torch.tensor(t), torch.tensor(y)).numpy(), F(t, y), rtol=1e-14,
                               atol=1e-14)
    np.testing.assert_allclose(Ft.jacobian(torch.tensor(t), torch.tensor(y)).numpy(),
                               F.jacobian(t, y), rtol=1e-13, atol=1e-13)


def test_batch_equals_single():
    net = NetworkSpec(model="ltc", activation="relu", width=5, depth=2)
    inp = InputSpec()
    ps = [sample_params(net, 0, s) for s in range(4)]
    Fb = VectorField.from_params(net, inp, ps)
    y = np.random.default_rng(2).standard_normal((4, 10))
    t = np.array([0.1, 1.0, 3.0, 6.2])
    out = Fb(t, y)
    for i, p in enumerate(ps):
        np.testing.assert_allclose(VectorField.from_params(net, inp, p)(t[i:i + 1], y[i:i + 1])[0],
                                   out[i], rtol=1e-15, atol=1e-15)
    sub = Fb.take(np.array([2, 0]))
    np.testing.assert_allclose(sub(t[[2, 0]], y[[2, 0]]), out[[2, 0]], rtol=1e-15)


def test_reference_node_and_ctrnn_ignore_recurrent_weights():
    net = NetworkSpec(model="ctrnn", activation="tanh", width=4, semantics="reference")
    p = sample_params(net, 0, 0)
    F1 = VectorField.from_params(net, InputSpec(), p)
    F2 = VectorField.from_params(net, InputSpec(), p.zero_recurrent())
    y, t = np.ones((1, 4)), np.array([0.5])
    np.testing.assert_array_equal(F1(t, y), F2(t, y))
    ltc = net.replace(model="ltc")
    assert not np.allclose(VectorField.from_params(ltc, InputSpec(), p)(t, y),
                           VectorField.from_params(ltc, InputSpec(), p.zero_recurrent())(t, y))


def test_hardtanh_matlab_is_identity_unless_all_units_saturate():
    f = activation("hardtanh_matlab")
    v = np.array([[0.5, 3.0, -2.0], [1.0, 2.0, 5.0], [-1.0, -4.0, -1.5]])
    np.testing.assert_array_equal(f(v), [[0.5, 3.0, -2.0], [1, 1, 1], [-1, -1, -1]])
    np.testing.assert_array_equal(activation("hardtanh")(v[0]), [0.5, 1.0, -1.0])
    np.testing.assert_array_equal(derivative("hardtanh_matlab")(v), [[1, 1, 1], [0, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_derivatives(name):
    p = np.linspace(-3, 3, 61)[None, :] + 1e-3  # avoid kinks
    eps = 1e-7
    num = (activation(name)(p + eps) - activation(name)(p - eps)) / (2 * eps)
    np.testing.assert_allclose(derivative(name)(p), num, atol=1e-6)


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise"):
        out = activation("sigmoid")(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])


def test_identity_node_traces_exact_ellipse():
    """hardtanh_matlab is the identity unless every unit saturates: with b = 0 the N-ODE is
    dx/dt = (sin t, cos t) W, so x(t) = (1 − cos t, sin t) W exactly."""
    from scipy.integrate import quad

    from trajlen.measures import arc_length, pca_project

    net, inp, sol = make_specs("paper", model="node", activation="hardtanh_matlab", width=8,
                               recurrence="none", sigma_w2=1.0, rtol=1e-10, atol=1e-12,
                               output="grid", grid_points=4001)
    p = sample_params(net, 0, 0)
    p = type(p)(**{**p.arrays(), "b": np.zeros_like(p.b)})
    traj = trajectory_for(Task(net, inp, sol), p)
    W = p.W[0, :2, :]
    exact = np.stack([1 - np.cos(traj.t), np.sin(traj.t)], axis=1) @ W
    np.testing.assert_allclose(traj.x, exact, atol=1e-8)
    # The ellipse perimeter, independently: ∫ ‖(sin t, cos t) W‖ dt.
    perim = quad(lambda t: np.linalg.norm(np.array([np.sin(t), np.cos(t)]) @ W), 0, 2 * np.pi,
                 epsabs=1e-12)[0]
    z, ratio = pca_project(traj.x)
    assert arc_length(z) == pytest.approx(perim, rel=1e-5)
    assert ratio.sum() == pytest.approx(1.0, abs=1e-12)  # a planar curve


@pytest.mark.parametrize("seed", range(3))
def test_paper_ltc_sigmoid_obeys_theorem2(seed):
    """Theorem 2 (Eq. 5): min(0, A_i) <= x_i(t) <= max(0, A_i) for the paper's LTC with sigmoid f."""
    net, inp, sol = make_specs("paper", model="ltc", activation="sigmoid", width=20, depth=2,
                               sigma_w2=8.0, rtol=1e-8, atol=1e-10)
    p = sample_params(net, seed, 0)
    traj = trajectory_for(Task(net, inp, sol), p)
    assert traj.ok
    A = p.A.reshape(-1)
    assert np.all(traj.x >= np.minimum(0, A) - 1e-9)
    assert np.all(traj.x <= np.maximum(0, A) + 1e-9)
