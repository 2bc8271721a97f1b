"""Tableaus and step-size controllers of the torch solver (trajlen.solve.tableau, .controllers).

Independent truths: scipy's own coefficient arrays and ``solve_ivp``; a plain-Python transcription of
MATLAB ``ode45.m``/``ode23.m``'s main loop (one network, numpy floats) and step sizes worked out by hand
from the ode45 formulas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate as si
import torch
from scipy.integrate._ivp import rk as scipy_rk

from tests.helpers import TAB, points
from trajlen.solve.batch import integrate_adaptive
from trajlen.solve.batch.controllers import MatlabController, ScipyController, make_controller
from trajlen.spec import SolverSpec

EULER, RK4, RK23, RK45 = TAB["euler"], TAB["rk4"], TAB["RK23"], TAB["RK45"]

T_END = 2 * math.pi


# -- stub fields -------------------------------------------------------------------------------------
class LinearField:
    """``dy/dt = M y + c cos(t)`` per row: ``M`` (b, N, N), ``c`` (b, N). A stub with the solver's
    field interface (``__call__``, ``take``, ``leak_drive`` for diagonal M)."""

    def __init__(self, M, c):
        self.M, self.c = torch.as_tensor(M, dtype=torch.float64), torch.as_tensor(c, dtype=torch.float64)

    def __call__(self, t, y):
        return (self.M @ y[:, :, None])[:, :, 0] + self.c * torch.cos(t)[:, None]

    def numpy_row(self, i):
        M, c = self.M[i].numpy(), self.c[i].numpy()
        return lambda t, y: M @ y + c * np.cos(t)

    def take(self, rows):
        return LinearField(self.M[rows], self.c[rows])


def decay(rate=1.0):
    return LinearField([[[-rate]]], [[0.0]])


def oscillator():
    return LinearField([[[0.0, 1.0], [-1.0, 0.0]]], [[0.0, 0.0]])


def forced_stiff(rate=50.0):
    """``y' = −rate (y − cos t)``: explicit RK runs at its stability limit, so steps get rejected."""
    return LinearField([[[-rate]]], [[rate]])


def run(field, y0, tab, controller, rtol, atol, dense=False, max_steps=100_000):
    y0 = torch.as_tensor(np.atleast_2d(y0), dtype=torch.float64)
    ctrl = make_controller(controller, tab, rtol, atol)
    return integrate_adaptive(field, y0, T_END, tab, ctrl, max_steps=max_steps, dense=dense)


# -- tableaus ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tab, ref", [(RK23, scipy_rk.RK23), (RK45, scipy_rk.RK45)])
def test_tableau_is_scipys(tab, ref):
    for name in ("C", "A", "B", "E", "P"):
        np.testing.assert_array_equal(getattr(tab, name), getattr(ref, name), err_msg=name)
    assert tab.order == ref.order and tab.error_order == ref.error_estimator_order


@pytest.mark.parametrize("tab", [RK23, RK45, EULER, RK4])
def test_tableau_consistency(tab):
    np.testing.assert_allclose(tab.A.sum(axis=1), tab.C, atol=1e-15)   # row sums of A are C
    assert tab.B.sum() == pytest.approx(1.0, abs=1e-15)
    if tab.adaptive:
        # The error weights are a difference of two consistent weight vectors: they sum to zero.
        assert tab.E.sum() == pytest.approx(0.0, abs=1e-15)
        for P in (tab.P, tab.P_matlab):
            # At s = 1 the interpolant reproduces the step: Σ_q P[j, q] = B_j (FSAL stage: 0).
            np.testing.assert_allclose(P.sum(axis=1), np.append(tab.B, 0.0), atol=1e-14)


def test_make_controller_rejects_bad_names():
    with pytest.raises(ValueError, match="controller must be one of scipy, matlab"):
        make_controller("ode45", RK45, 1e-3, 1e-6)
    with pytest.raises(ValueError, match="adaptive pair"):
        make_controller("scipy", RK4, 1e-3, 1e-6)


# -- scipy controller against solve_ivp -------------------------------------------------------------------
@pytest.mark.parametrize("method, tab", [("RK23", RK23), ("RK45", RK45)])
@pytest.mark.parametrize("make, y0", [(decay, [1.0]), (oscillator, [1.0, 0.0]),
                                      (forced_stiff, [0.0])])
@pytest.mark.parametrize("rtol, atol", [(1e-3, 1e-6), (1e-2, 1e-4)])
def test_scipy_controller_matches_solve_ivp(method, tab, make, y0, rtol, atol):
    field = make()
    res = run(field, y0, tab, "scipy", rtol, atol)[0]
    ref = si.solve_ivp(field.numpy_row(0), (0, T_END), np.asarray(y0, float), method=method,
                       rtol=rtol, atol=atol)
    assert res.status == "ok"
    assert res.n_accepted == len(ref.t) - 1 and res.nfev == ref.nfev
    # Step *counts* are exact; step times agree to round-off amplified by the cancellation in the
    # error estimate Σ E_j K_j (BLAS and torch sum in different orders).
    np.testing.assert_allclose(res.step_t, ref.t, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(res.step_y[-1], ref.y[:, -1], rtol=1e-10, atol=1e-14)


def test_scipy_initial_step_is_select_initial_step():
    field = oscillator()
    f = field.numpy_row(0)
    y0 = np.array([0.3, -0.2])
    expected = scipy_rk.select_initial_step(f, 0.0, y0, T_END, np.inf, f(0.0, y0), 1, 4, 1e-3, 1e-6)
    ctrl = ScipyController(RK45, 1e-3, 1e-6)
    t0 = torch.zeros(1, dtype=torch.float64)
    y = torch.tensor(y0[None])
    h, extra = ctrl.initial_step(field, t0, y, field(t0, y), T_END)
    assert extra == 1 and h.item() == pytest.approx(expected, rel=1e-14)


# -- MATLAB controller: an independent scalar transcription of ode45.m / ode23.m ---------------------------
def ode45_reference(f, y0, t_end, tab, rtol, atol, refine=1):
    """Plain-numpy transcription of MATLAB's ode45/ode23 main loop (default options, tspan = [0 tf]).

    Returns ``(accepted times, failed attempts, nfevals, [(t, y) refine outputs])``.
    """
    pow_ = 1 / (tab.error_order + 1)
    floor = 0.1 if tab.name == "RK45" else 0.5
    threshold = atol / rtol
    t, y = 0.0, np.array(y0, float)
    f1 = f(t, y)
    nfev, nfailed = 1, 0
    hmax = 0.1 * abs(t_end)
    hmin = 16 * np.spacing(0.0)
    absh = min(hmax, t_end)
    rh = np.max(np.abs(f1 / np.maximum(np.abs(y), threshold))) / (0.8 * rtol ** pow_)
    if absh * rh > 1:
        absh = 1 / rh
    absh = max(absh, hmin)
    ts, outs = [0.0], [(0.0, y.copy())]
    done = False
    while not done:
        hmin = 16 * np.spacing(t)
        absh = min(hmax, max(hmin, absh))
        h = absh
        if 1.1 * absh >= abs(t_end - t):
            h = t_end - t
            absh = abs(h)
            done = True
        nofailed = True
        while True:
            K = [f1]
            for i in range(1, tab.n_stages):
                K.append(f(t + tab.C[i] * h, y + h * sum(tab.A[i, j] * K[j] for j in range(i))))
            tnew = t_end if done else t + h
            h = tnew - t
            ynew = y + h * sum(tab.B[j] * K[j] for j in range(tab.n_stages))
            K.append(f(tnew, ynew))
            nfev += tab.n_stages
            fE = sum(tab.E[j] * K[j] for j in range(len(K)))
            err = absh * np.max(np.abs(fE / np.maximum(np.maximum(np.abs(y), np.abs(ynew)), threshold)))
            if err > rtol:
                nfailed += 1
                assert absh > hmin, "reference run hit hmin"
                if nofailed:
                    nofailed = False
                    absh = max(hmin, absh * max(floor, 0.8 * (rtol / err) ** pow_))
                else:
                    absh = max(hmin, 0.5 * absh)
                h = absh
                done = False
            else:
                break
        ts.append(tnew)
        Q = np.stack(K, axis=1) @ tab.P_matlab             # (n, q): ntrp45's f·BI
        for k in range(1, refine):
            s = k / refine
            outs.append((t + h * s, y + h * Q @ (s ** np.arange(1, Q.shape[1] + 1))))
        outs.append((tnew, ynew))
        if done:
            break
        if nofailed:
            temp = 1.25 * (err / rtol) ** pow_
            absh = absh / temp if temp > 0.2 else 5.0 * absh
        t, y, f1 = tnew, ynew, K[-1]
    return np.array(ts), nfailed, nfev, outs


def test_matlab_first_steps_by_hand():
    """y' = −y, y(0) = 1, RelTol 1e-3, AbsTol 1e-6.

    ode45: rh = |f0| / max(|y0|, AbsTol/RelTol) / (0.8 RelTol^{1/5}) = 1 / (0.8·10^{-3/5}), and
    absh = min(0.1·2π, 2π) = 0.628 > 1/rh, so the first step is 1/rh = 0.8·10^{-0.6} = 0.20095.
    For y' = −y every stage is a polynomial in h times y, so the error of the first step is
    err = h·|Σ_j E_j k_j| / max(1, |y_1|) with k_j the stage values for y = 1 — computed here from
    the tableau — and the next step is h / (1.25 (err/rtol)^{1/5}) (no failure, growth < 5).
    """
    rtol, atol = 1e-3, 1e-6
    res = run(decay(), [1.0], RK45, "matlab", rtol, atol)[0]
    h1 = 0.8 * rtol ** 0.2
    assert res.step_t[1] == pytest.approx(h1, rel=1e-15)
    # Stage values of y' = −y from y = 1 with step h1.
    k = [-1.0]
    for i in range(1, 6):
        k.append(-(1.0 + h1 * sum(RK45.A[i, j] * k[j] for j in range(i))))
    y1 = 1.0 + h1 * sum(RK45.B[j] * k[j] for j in range(6))
    k.append(-y1)
    err = h1 * abs(sum(RK45.E[j] * k[j] for j in range(7))) / max(1.0, abs(y1))
    assert err < rtol                                  # accepted: the step count confirms it
    h2 = h1 / (1.25 * (err / rtol) ** 0.2)
    assert min(h2, 0.1 * T_END) == pytest.approx(res.step_t[2] - res.step_t[1], rel=1e-12)
    assert res.step_y[1, 0] == pytest.approx(y1, rel=1e-14)
    assert res.step_y[1, 0] == pytest.approx(math.exp(-h1), rel=1e-6)


def test_matlab_hmax_caps_steps():
    """A slowly varying solution runs at MaxStep = 0.1·|tf − t0| = 2π/10, then the last step is
    stretched to land on 2π (10 steps)."""
    res = run(decay(1e-3), [1.0], RK45, "matlab", 1e-3, 1e-6)[0]
    np.testing.assert_allclose(np.diff(res.step_t), 0.1 * T_END, rtol=1e-12)
    assert res.n_accepted == 10 and res.step_t[-1] == T_END


@pytest.mark.parametrize("tab", [RK45, RK23])
@pytest.mark.parametrize("make, y0", [(decay, [1.0]), (oscillator, [1.0, 0.0]),
                                      (forced_stiff, [0.0])])
@pytest.mark.parametrize("rtol, atol", [(1e-3, 1e-6), (1e-2, 1e-4)])
def test_matlab_controller_matches_transcription(tab, make, y0, rtol, atol):
    field = make()
    res = run(field, y0, tab, "matlab", rtol, atol, dense=True)[0]
    ts, nfailed, nfev, outs = ode45_reference(field.numpy_row(0), y0, T_END, tab, rtol, atol, refine=4)
    assert res.status == "ok"
    assert res.n_accepted == len(ts) - 1 and res.n_rejected == nfailed and res.nfev == nfev
    np.testing.assert_allclose(res.step_t, ts, rtol=1e-9, atol=1e-15)
    if make is forced_stiff:
        assert nfailed > 0                          # the rejection branches were exercised
    # Refine = 4: points at 1/4, 2/4, 3/4 of each step via the ntrp interpolant, then the step end.
    t_out, x_out = points(res, SolverSpec(backend="torch", method=tab.name, controller="matlab",
                                                 output="refine", refine=4), T_END)
    ref_t = np.array([o[0] for o in outs])
    ref_x = np.array([o[1] for o in outs])
    assert len(t_out) == 1 + 4 * res.n_accepted
    np.testing.assert_allclose(t_out, ref_t, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(x_out, ref_x, rtol=1e-8, atol=1e-12)


def test_matlab_interpolant_is_ntrp45_not_scipys():
    """The two RK45 interpolants differ inside a step; each reproduces the step end."""
    field = oscillator()
    res_m = run(field, [1.0, 0.0], RK45, "matlab", 1e-3, 1e-6, dense=True)[0]
    assert isinstance(make_controller("matlab", RK45, 1, 1), MatlabController)
    spec = SolverSpec(backend="torch", method="RK45", controller="matlab", output="refine", refine=4)
    t_out, x_out = points(res_m, spec, T_END)
    # Against the exact solution (cos t, −sin t) the ode45 interpolant is accurate to ~tolerance.
    exact = np.stack([np.cos(t_out), -np.sin(t_out)], axis=1)
    assert np.abs(x_out - exact).max() < 1e-2
    Q_scipy = res_m.Q  # same K, scipy's P would give other interior values
    assert not np.allclose(RK45.P, RK45.P_matlab)
    assert Q_scipy.shape[2] == 4
