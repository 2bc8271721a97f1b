"""ros23w: ode23s's modified Rosenbrock pair (Shampine & Reichelt 1997; Wolfbrandt's second-order
W-formula with its third-order error companion) run as a W-method with the *diagonal* of the analytic
Jacobian, for the stiff networks — compiled, one network at a time.

A W-formula keeps its order with any matrix in place of the Jacobian J. The networks' stiffness sits on
J's diagonal (the leak 1/τ [+ D(f)] of tiny-τ units; the coupling through W_r is of order σ_w), so the
diagonal alone makes the step stable there and each W⁻¹ is a division — no k × k LU (≈ 140 µs at
k = 100, ≈ 17 RHS evaluations). ``RK45+ros23w`` runs the explicit loop until its stiffness test fires,
then this one, which hands back when its steps turn out shorter than RK45's were.

``control = (controller, rtol, atol, max_steps, t_end, h_ref, step_limit, hmax)`` (``hmax``: MATLAB's
MaxStep); tolerances are :data:`ROS_TOL_FACTOR` × the given ones.
"""

from __future__ import annotations

import math

import numpy as np

from ..controllers import (
    MATLAB_HMIN_EPS,
    MATLAB_STRETCH,
    eps,
    matlab_accept,
    matlab_next_step,
    scipy_accept,
    scipy_next_step,
)
from ..result import BUDGET, NON_FINITE, OK, UNDERFLOW
from .borrow import borrowed
from .common import all_finite, copy, max_matlab, must_stop, rms_scipy, write_step
from .field import evaluate
from .jit import njit
from .state import (
    FAIL_T,
    H_ABS,
    HANDBACK,
    IN_WINDOW,
    N_ACC,
    N_REJ,
    NFEV,
    NJEV,
    T_WINDOW,
    WARMED,
    T,
)

__all__ = ["ROS_TOL_FACTOR", "ros_run", "ros_step", "ros_initial_step"]

_D = 1.0 / (2.0 + math.sqrt(2.0))
_E32 = 6.0 + math.sqrt(2.0)
_SQRT_EPS = math.sqrt(np.finfo(np.float64).eps)
#: The Rosenbrock phase runs at this fraction of the user's rtol and atol. It propagates its
#: second-order solution, where RK45 propagates the fifth-order one of an error estimate for the
#: fourth: at equal tolerances its figure lengths were 1.3e-3 off (median, paper mix, vs 5e-7 for
#: RK45); at a tenth 3.3e-4 (BENCHMARKS.md, "Figure lengths").
ROS_TOL_FACTOR = 0.1
_SHRINK_FLOOR = 0.5   # ode23s's first shrink after a rejection is at most 2× (ode45's 10×)
_ERROR_ORDER = 2
_WINDOW = 30
_HANDBACK = 0.5


@njit
def ros_step(fld, t, h, t_new, y, F0, T_, jd, work):
    """One step of the modified Rosenbrock formula from ``(t, y)``, ``F0 = f(t, y)``, ``T_ ≈ ∂f/∂t``,
    with ``W = I − h·d·diag(jd)``, d = 1/(2+√2)::

        k1 = W⁻¹(F0 + h d T);  F1 = f(t + h/2, y + h/2·k1);  k2 = W⁻¹(F1 − k1) + k1;
        y_new = y + h·k2;  F2 = f(t + h, y_new);  k3 = W⁻¹(F2 − e32 (k2 − F1) − 2 (k1 − F0) + h d T)

    e32 = 6 + √2; the local error estimate is h/6·(k1 − 2 k2 + k3). ``work`` rows: y_new, F1, F2, k1,
    k2, k3. ``t_new`` is ``t + h`` or the stretched end."""
    y_new, F1, F2, k1, k2, k3 = work[0], work[1], work[2], work[3], work[4], work[5]
    hd = h * _D
    for j in range(y.shape[0]):
        k1[j] = (F0[j] + hd * T_[j]) / (1.0 - hd * jd[j])
        y_new[j] = y[j] + 0.5 * h * k1[j]
    evaluate(t + 0.5 * h, y_new, F1, fld, False)
    for j in range(y.shape[0]):
        k2[j] = (F1[j] - k1[j]) / (1.0 - hd * jd[j]) + k1[j]
        y_new[j] = y[j] + (t_new - t) * k2[j]
    evaluate(t_new, y_new, F2, fld, False)
    for j in range(y.shape[0]):
        k3[j] = (F2[j] - _E32 * (k2[j] - F1[j]) - 2.0 * (k1[j] - F0[j]) + hd * T_[j]) / (
            1.0 - hd * jd[j])


@njit
def ros_initial_step(y, F0, control):
    """ode23s's initial step (the pure ros23w method)."""
    controller, t_end = control[0], control[4]
    rtol, atol = control[1] * ROS_TOL_FACTOR, control[2] * ROS_TOL_FACTOR
    threshold = atol / rtol
    rh = 0.0
    for i in range(y.shape[0]):
        v = abs(F0[i]) / max(abs(y[i]), threshold)
        if v > rh:
            rh = v
    rh = 1.25 * rh / rtol ** (1.0 / 3.0)
    hmax_user = control[7] if controller == 1 else math.inf
    h_abs = min(hmax_user, t_end)
    if h_abs * rh > 1.0:
        h_abs = 1.0 / rh
    return h_abs


@njit
def _attempts(fld, control, t, h_abs, done, y, F0, T_, jd, work, est, hmin):
    """Try Rosenbrock steps until one is accepted or the solve fails: ``(status, t_new, h_abs,
    n_rejected, nfev, done)``; the accepted state is ``work[0]``, ``F2`` is ``work[2]``; ``done``:
    the accepted step was the stretched last one (a rejection cancels the stretch)."""
    controller, rtol, atol, max_steps = (control[0], control[1] * ROS_TOL_FACTOR,
                                         control[2] * ROS_TOL_FACTOR, control[3])
    t_end = control[4]
    n_rej = 0
    nfev = 0
    failed = False
    while True:
        t_new = t_end if done else t + h_abs
        ros_step(fld, t, h_abs, t_new, y, F0, T_, jd, work)
        nfev += 2
        h = t_new - t
        for j in range(y.shape[0]):
            est[j] = work[3, j] - 2.0 * work[4, j] + work[5, j]   # the local error is h/6 of this
        if controller == 0:
            err = rms_scipy(est, h / 6.0, y, work[0], rtol, atol)
            accept = scipy_accept(err, rtol)
        else:
            err = (h_abs / 6.0) * max_matlab(est, y, work[0], atol / rtol)
            accept = matlab_accept(err, rtol)
        if accept:
            if controller == 0:
                h_abs = scipy_next_step(h_abs, err, True, failed, _ERROR_ORDER)
            else:
                h_abs = matlab_next_step(h_abs, err, True, failed, rtol, _ERROR_ORDER, hmin,
                                         _SHRINK_FLOOR)
            return OK, t_new, h_abs, n_rej, nfev, done
        n_rej += 1
        if h_abs <= hmin:
            return UNDERFLOW, t, h_abs, n_rej, nfev, False
        if control[8] + n_rej >= max_steps:   # control[8]: steps taken before this one
            return BUDGET, t, h_abs, n_rej, nfev, False
        if controller == 0:
            h_abs = scipy_next_step(h_abs, err, False, failed, _ERROR_ORDER)
        else:
            h_abs = matlab_next_step(h_abs, err, False, failed, rtol, _ERROR_ORDER, hmin, _SHRINK_FLOOR)
        failed = True
        done = False


@njit
def _hermite(Qs, y, y_new, F0, F2, h):
    """The cubic Hermite polynomial through both step ends and their derivatives (third order;
    ode23s's own interpolant is quadratic), as dense-output coefficients."""
    for j in range(y.shape[0]):
        slope = (y_new[j] - y[j]) / h
        Qs[j, 0] = F0[j]
        Qs[j, 1] = 3.0 * slope - 2.0 * F0[j] - F2[j]
        Qs[j, 2] = F0[j] + F2[j] - 2.0 * slope


@njit(entry=True)
def ros_run(fld, control, sf, si, y, F0, out):
    """Continue a solve from ``t = sf[T]``, ``y``, ``F0 = f(t, y)``, ``h_abs = sf[H_ABS]`` with
    ros23w until it ends (OK), fails, fills ``out`` (PAUSE) or — with ``h_ref = control[5] > 0``, the
    explicit method's step when it was found stiff — hands back (HANDBACK): as soon as
    ``_WINDOW`` accepted steps (after a first window, in which the step grows from ``h_ref``) advance
    less than ``_HANDBACK`` × as many steps of ``h_ref`` would. The diagonal Jacobian and a
    finite-difference ∂f/∂t are evaluated once per step, as ``ode23s.m`` does its Jacobian."""
    n = y.shape[0]
    scratch = (np.empty(n), np.empty(n), np.empty(n), np.empty((6, n)), np.zeros((n, 3)))
    return _ros_loop(fld, control, (sf, si, y, F0), out, scratch)


@njit
def _ros_loop(fld, control, state, out, scratch):
    """:func:`ros_run` on borrowed views (:mod:`.borrow`); ``scratch = (jd, T_, est (N,), work (6, N),
    Qs (N, 3))`` is owned by the caller for the call."""
    fld, state, out, scratch = borrowed((fld, state, out, scratch))
    sf, si, y, F0 = state
    jd, T_, est, work, Qs = scratch
    controller, max_steps, t_end, h_ref, step_limit = (control[0], control[3], control[4], control[5],
                                                       control[6])
    n = y.shape[0]
    hmax_user = control[7] if controller == 1 else math.inf
    if si[NFEV] == 0:   # a new solve (the pure ros23w method): f(0, y0) and ode23s's initial step
        evaluate(sf[T], y, F0, fld, False)
        sf[H_ABS] = ros_initial_step(y, F0, control)
        si[NFEV] = 1
    t = sf[T]
    h_abs = sf[H_ABS]
    steps = 0
    while True:
        stop = must_stop(out, si, steps, step_limit, max_steps)
        if stop:
            sf[T], sf[H_ABS], sf[FAIL_T] = t, h_abs, t
            return stop
        if h_ref > 0.0 and si[IN_WINDOW] == _WINDOW:
            if si[WARMED] and t - sf[T_WINDOW] < _HANDBACK * _WINDOW * h_ref:
                sf[T], sf[H_ABS] = t, h_abs
                return HANDBACK
            si[WARMED] = 1   # the first window only grows the step from the explicit method's
            sf[T_WINDOW] = t
            si[IN_WINDOW] = 0
        hmin = MATLAB_HMIN_EPS * eps(t)
        h_abs = min(hmax_user, max(hmin, h_abs))
        done = MATLAB_STRETCH * h_abs >= t_end - t
        if done:
            h_abs = t_end - t
        evaluate(t, y, jd, fld, True)
        si[NJEV] += 1
        tdel = (t + min(_SQRT_EPS * max(abs(t), abs(t + h_abs)), h_abs)) - t
        evaluate(t + tdel, y, T_, fld, False)
        si[NFEV] += 1
        for j in range(n):
            T_[j] = (T_[j] - F0[j]) / tdel
        ctl = (control[0], control[1], control[2], control[3], control[4], control[5], control[6],
               control[7], si[N_ACC] + si[N_REJ])
        status, t_new, h_abs, n_rej, nfev, done = _attempts(fld, ctl, t, h_abs, done, y, F0, T_, jd, work,
                                                      est, hmin)
        si[N_REJ] += n_rej
        si[NFEV] += nfev
        if status == OK and not all_finite(work[0]):
            status = NON_FINITE
        if status != OK:
            sf[T], sf[H_ABS], sf[FAIL_T] = t, h_abs, t
            return status
        _hermite(Qs, y, work[0], F0, work[2], t_new - t)
        write_step(out, si, t, y, t_new, work[0], Qs)
        si[N_ACC] += 1
        si[IN_WINDOW] += 1
        steps += 1
        t = t_new
        copy(y, work[0])
        copy(F0, work[2])
        if done:
            sf[T], sf[H_ABS] = t, h_abs
            return OK
