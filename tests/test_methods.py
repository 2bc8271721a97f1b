"""Every Runge–Kutta method of the registry, enrolled from it (tests/helpers.py): its tableau's
consistency, its dense output, and its convergence order on a coupled nonlinear network — so a new
tableau file plus its registry line is tested without touching this file."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate as si

from tests.helpers import EXPLICIT, TABLEAU_METHODS
from trajlen.models import VectorField
from trajlen.params import sample_params
from trajlen.solve.registry import METHODS
from trajlen.spec import InputSpec, NetworkSpec

IDS = [m.name for m in TABLEAU_METHODS]


@pytest.mark.parametrize("m", TABLEAU_METHODS, ids=IDS)
def test_tableau_is_consistent(m):
    """Row sums of A are the nodes, the weights sum to 1, A is strictly lower triangular; an
    adaptive pair's error weights sum to 0 and its dense output at s = 1 is the step itself."""
    tab = m.tableau
    s = tab.n_stages
    assert tab.A.shape[0] == s and np.allclose(np.triu(np.pad(tab.A, ((0, 0), (0, s - tab.A.shape[1])))), 0)
    np.testing.assert_allclose(tab.A.sum(axis=1), tab.C, atol=1e-14)
    assert tab.B.sum() == pytest.approx(1.0, abs=1e-14)
    assert tab.order == m.order
    if m.kind == "explicit":
        assert tab.E.shape == (s + 1,) and tab.E.sum() == pytest.approx(0.0, abs=1e-14)
        for P in (tab.P, tab.P_matlab):
            at_one = P.sum(axis=1)             # Σ_m P[j, m]·1^m: the weights of the step end
            np.testing.assert_allclose(at_one[:s], tab.B, atol=1e-13)
            assert at_one[s] == pytest.approx(0.0, abs=1e-13)


def _field():
    """A coupled nonlinear LTC, σ_w² = 4, its time constants kept ≥ 0.5 (smooth, not stiff)."""
    net = NetworkSpec(model="ltc", activation="tanh", width=6, semantics="paper", sigma_w2=4.0)
    inp = InputSpec(semantics="paper")
    p = sample_params(net, 0, 3)
    p.tau[:] = np.maximum(p.tau, 0.5)
    field = VectorField.from_params(net, inp, p)
    return lambda t, y: field(np.array([t]), y[None])[0], net.n_state


def _integrate(tab, f, y0, t_end, steps, dense_at=None):
    """Fixed steps of the tableau in plain numpy (independent of every executor); with
    ``dense_at = s`` also the dense output at the fraction s of the last step."""
    h = t_end / steps
    y = y0.copy()
    t = 0.0
    for _ in range(steps):
        K = [f(t, y)]
        for i in range(1, tab.n_stages):
            K.append(f(t + tab.C[i] * h, y + h * sum(a * k for a, k in zip(tab.A[i, :i], K))))
        y_new = y + h * sum(b * k for b, k in zip(tab.B, K))
        if dense_at is not None and t + h >= t_end - 1e-12:
            K.append(f(t + h, y_new))
            Q = np.stack(K, axis=-1) @ tab.P
            return y + h * Q @ (dense_at ** np.arange(1, Q.shape[1] + 1)), t + dense_at * h
        y, t = y_new, t + h
    return y, t


@pytest.mark.parametrize("m", TABLEAU_METHODS, ids=IDS)
def test_convergence_order(m):
    """Global error of fixed steps falls at least as h^order (observed order ≥ the registry's − 0.3;
    the 5th-order pairs show ≈ 6 here, their leading error term being small on this problem)."""
    f, n = _field()
    y0 = 0.3 * np.ones(n)
    t_end = 2.0
    ref = si.solve_ivp(f, (0, t_end), y0, method="DOP853", rtol=1e-13, atol=1e-14).y[:, -1]
    base = {1: 64, 3: 16, 4: 16, 5: 8}[m.order]
    errs = [np.abs(_integrate(m.tableau, f, y0, t_end, base * 2 ** i)[0] - ref).max() for i in range(3)]
    orders = np.log2(np.asarray(errs[:-1]) / np.asarray(errs[1:]))
    assert orders.min() >= m.order - 0.3, (errs, orders)
    if m.order < 5:   # and not more than the order claimed: the method is what it says
        assert orders[-1] <= m.order + 0.3, (errs, orders)


@pytest.mark.parametrize("m", EXPLICIT, ids=[m.name for m in EXPLICIT])
def test_dense_output_order(m):
    """The interpolant inside a step is accurate to at least third order in h (the error of a
    mid-step point falls by ≥ 2^3 per halving of h)."""
    f, n = _field()
    y0 = 0.3 * np.ones(n)
    errs = []
    for steps in (4, 8, 16):
        y_mid, t_mid = _integrate(m.tableau, f, y0, 1.0, steps, dense_at=0.5)
        ref = si.solve_ivp(f, (0, t_mid), y0, method="DOP853", rtol=1e-13, atol=1e-14).y[:, -1]
        errs.append(np.abs(y_mid - ref).max())
    assert errs[1] / errs[2] > 2 ** 3 * 0.9, errs


def test_registry_names_every_method_once():
    assert all(name == m.name for name, m in METHODS.items())
    assert {m.name for m in TABLEAU_METHODS} >= {"RK23", "RK45", "Tsit5", "euler", "rk4"}
