"""The compiled explicit Runge–Kutta loop: any adaptive pair of :mod:`trajlen.solve.methods` under
scipy's or MATLAB's step-size rules (:mod:`trajlen.solve.controllers`), one network at a time.

``method = (C, A, B, E, P, error_order, shrink_floor)`` is the tableau; ``control = (controller,
rtol, atol, max_steps, t_end, detect_stiff, step_limit, hmax)`` with controller 0 = scipy, 1 = MATLAB;
``detect_stiff``: stop with :data:`~trajlen.solve.compiled.state.STIFF` when Hairer's DOPRI5
stiffness test fires; ``step_limit``: pause after that many accepted steps (a wall-time check);
``hmax``: MATLAB's MaxStep (:func:`~trajlen.solve.controllers.matlab_max_step`).
"""

from __future__ import annotations

import math

import numpy as np

from ..controllers import (
    matlab_accept,
    matlab_begin_step,
    matlab_hmin,
    matlab_initial_step,
    matlab_next_step,
    matlab_scaled,
    matlab_step_to_try,
    scipy_accept,
    scipy_h0,
    scipy_h1,
    scipy_min_step,
    scipy_next_step,
    scipy_scaled,
    scipy_step_to_try,
)
from ..result import NON_FINITE, OK, UNDERFLOW
from .borrow import borrowed
from .common import all_finite, copy, max_matlab, must_stop, rms_scipy, write_step
from .field import evaluate
from .jit import njit
from .state import (
    FAIL_T,
    H_ABS,
    H_REF,
    N_ACC,
    N_REJ,
    NFEV,
    NONSTIFF_HITS,
    STIFF,
    STIFF_HITS,
    T_SWITCH,
    T,
)

__all__ = ["initial_step", "explicit_run"]


@njit
def initial_step(fld, y, f, method, control):
    """The first step size from ``y``, ``f = f(0, y)``: scipy's ``select_initial_step`` (one more RHS
    evaluation, returned as ``extra_nfev``) or ode45's rule. Returns ``(h_abs, extra_nfev)``."""
    error_order = method[5]
    controller, rtol, atol, t_end = control[0], control[1], control[2], control[4]
    n = y.shape[0]
    if controller == 0:
        d0 = 0.0
        d1 = 0.0
        for j in range(n):
            a = scipy_scaled(y[j], 1.0, y[j], y[j], rtol, atol)
            b = scipy_scaled(f[j], 1.0, y[j], y[j], rtol, atol)
            d0 += a * a
            d1 += b * b
        d0 = math.sqrt(d0) / math.sqrt(n)
        d1 = math.sqrt(d1) / math.sqrt(n)
        h0 = scipy_h0(d0, d1, t_end)
        y1 = np.empty(n)
        for j in range(n):
            y1[j] = y[j] + h0 * f[j]
        f1 = np.empty(n)
        evaluate(h0, y1, f1, fld, False)
        d2 = 0.0
        for j in range(n):
            c = scipy_scaled(f1[j] - f[j], 1.0, y[j], y[j], rtol, atol)
            d2 += c * c
        d2 = math.sqrt(d2) / math.sqrt(n) / h0
        return scipy_h1(h0, d1, d2, t_end, error_order), 1
    rh = 0.0
    for j in range(n):
        v = matlab_scaled(f[j], y[j], y[j], atol / rtol)
        if v > rh:
            rh = v
    rh = rh / (0.8 * rtol ** (1.0 / (error_order + 1)))
    return matlab_initial_step(0.0, rh, t_end, control[7]), 0


@njit
def _combine(K, w, m, out):
    """``Σ_{j<m} w_j K_j`` left to right, skipping zero weights (tableau.combine)."""
    first = True
    for j in range(m):
        wj = w[j]
        if wj == 0.0:
            continue
        if first:
            for i in range(out.shape[0]):
                out[i] = K[j, i] * wj
            first = False
        else:
            for i in range(out.shape[0]):
                out[i] = out[i] + K[j, i] * wj


@njit
def _stages(fld, method, t, y, K, h_stage, h_final, t_fsal, work):
    """One Runge–Kutta attempt: the stages into ``K``, ``y_new`` into ``work[1]``; the FSAL stage
    ``f(t_fsal, y_new)`` into ``K[s]``. ``work[0]`` and ``work[2]`` are scratch (``work[2]`` ends
    as the last stage's state, for the stiffness test)."""
    C, Amat, Bw = method[0], method[1], method[2]
    s = C.shape[0]
    tmp, y_new, y_stage = work[0], work[1], work[2]
    for i in range(1, s):
        _combine(K, Amat[i], i, tmp)
        for j in range(y.shape[0]):
            y_stage[j] = y[j] + tmp[j] * h_stage
        evaluate(t + C[i] * h_stage, y_stage, K[i], fld, False)
    _combine(K, Bw, s, tmp)
    for j in range(y.shape[0]):
        y_new[j] = y[j] + h_final * tmp[j]
    evaluate(t_fsal, y_new, K[s], fld, False)


@njit
def _stiff(K, s, y_new, y_stage, h_final):
    """Hairer's DOPRI5 stiffness estimate ``h·ρ``, ρ ≈ ‖f(t+h, y_new) − f(t+h, y_stage)‖ /
    ‖y_new − y_stage‖: the last stage and the FSAL stage sit at the same time (c = 1), so their
    difference sees the stiff modes."""
    num = 0.0
    den = 0.0
    for j in range(y_new.shape[0]):
        dk = K[s, j] - K[s - 1, j]
        dy = y_new[j] - y_stage[j]
        num += dk * dk
        den += dy * dy
    return h_final * (math.sqrt(num / den) if den > 0.0 else 0.0)


@njit
def _attempt(fld, method, control, t, h_abs, h, done, y, K, work):
    """Try steps from ``(t, y)`` until one is accepted or the solve fails. Returns ``(status, t_new,
    h_abs, h_final, n_rejected)``; the accepted step's ``y_new`` is ``work[1]``."""
    C, E, error_order, shrink_floor = method[0], method[3], method[5], method[6]
    controller, rtol, atol, t_end = control[0], control[1], control[2], control[4]
    s = C.shape[0]
    min_step = scipy_min_step(t)
    n_rej = 0
    failed = False
    while True:
        if controller == 0:
            if h_abs < min_step:
                return UNDERFLOW, t, h_abs, 0.0, n_rej
            t_new, h_stage = scipy_step_to_try(t, h_abs, t_end)
            h_abs = abs(h_stage)
            h_final = h_stage
            t_fsal = t + h_stage
        else:
            t_new, h_final = matlab_step_to_try(t, h, done, t_end)
            h_stage = h
            t_fsal = t_new
        _stages(fld, method, t, y, K, h_stage, h_final, t_fsal, work)
        _combine(K, E, s + 1, work[0])
        if controller == 0:
            err = rms_scipy(work[0], h_final, y, work[1], rtol, atol)
            accept = scipy_accept(err, rtol)
            h_abs = scipy_next_step(h_abs, err, accept, failed, error_order)
        else:
            err = h_abs * max_matlab(work[0], y, work[1], atol / rtol)
            accept = matlab_accept(err, rtol)
            hmin = matlab_hmin(t)
            if not accept and h_abs <= hmin:
                return UNDERFLOW, t, h_abs, 0.0, n_rej + 1
            h_abs = matlab_next_step(h_abs, err, accept, failed, rtol, error_order, hmin, shrink_floor)
        if accept:
            return OK, t_new, h_abs, h_final, n_rej
        n_rej += 1
        failed = True
        if controller == 1:
            h = h_abs
            done = False


@njit(entry=True)
def explicit_run(fld, method, control, sf, si, y, K, out):
    """Continue a solve from ``t = sf[T]``, ``y``, ``K[0] = f(t, y)``, ``h_abs = sf[H_ABS]`` until it
    ends (OK), fails (a status code), fills ``out`` (PAUSE), or its stiffness test fires (STIFF). The
    state arrays are updated in place; ``y`` and ``K[0]`` hold the last accepted step. A new solve
    (no RHS evaluation counted yet) starts with ``f(0, y0)`` and the initial step."""
    n = y.shape[0]
    scratch = (np.empty((3, n)), np.empty((n, method[4].shape[1])))
    return _explicit_loop(fld, method, control, (sf, si, y, K), out, scratch)


@njit
def _explicit_loop(fld, method, control, state, out, scratch):
    """:func:`explicit_run` on borrowed views (:mod:`.borrow`); ``scratch = (work (3, N), Qs (N, q))``
    is owned by the caller for the call."""
    fld, method, state, out, scratch = borrowed((fld, method, state, out, scratch))
    sf, si, y, K = state
    work, Qs = scratch
    P = method[4]
    controller, max_steps, t_end, detect_stiff, step_limit = (control[0], control[3], control[4],
                                                              control[5], control[6])
    s = method[0].shape[0]
    n = y.shape[0]
    if si[NFEV] == 0:   # a new solve: f(0, y0) and the initial step
        evaluate(sf[T], y, K[0], fld, False)
        sf[H_ABS], extra = initial_step(fld, y, K[0], method, control)
        si[NFEV] = 1 + extra
    t = sf[T]
    h_abs = sf[H_ABS]
    steps = 0
    while True:
        stop = must_stop(out, si, steps, step_limit, max_steps)
        if stop:
            sf[T], sf[H_ABS], sf[FAIL_T] = t, h_abs, t
            return stop
        h = h_abs
        done = False
        if controller == 0:
            min_step = scipy_min_step(t)
            if h_abs < min_step:
                h_abs = min_step
        else:
            h_abs, h, done = matlab_begin_step(t, h_abs, t_end, control[7])
        status, t_new, h_abs, h_final, n_rej = _attempt(fld, method, control, t, h_abs, h, done, y,
                                                        K, work)
        si[N_REJ] += n_rej
        si[NFEV] += s * (n_rej + (1 if status == OK else 0))
        if status == OK and not all_finite(work[1]):
            status = NON_FINITE
        if status != OK:
            sf[T], sf[H_ABS], sf[FAIL_T] = t, h_abs, t
            return status
        y_new = work[1]
        if out[0] != 0:
            for j in range(n):
                for c in range(P.shape[1]):
                    acc_q = 0.0
                    for r in range(s + 1):
                        acc_q += K[r, j] * P[r, c]
                    Qs[j, c] = acc_q
        write_step(out, si, t, y, t_new, y_new, Qs)
        si[N_ACC] += 1
        steps += 1
        t = t_new
        copy(y, y_new)
        copy(K[0], K[s])
        if t_new >= t_end:
            sf[T], sf[H_ABS] = t, h_abs
            return OK
        if detect_stiff and _stiff_hit(K, s, y_new, work[2], h_final, si):
            sf[T], sf[H_ABS], sf[T_SWITCH], sf[H_REF] = t, h_abs, t, h_final
            return STIFF


@njit
def _stiff_hit(K, s, y_new, y_stage, h_final, si):
    """Hairer's test: ``h·ρ > 3.25`` on 15 accepted steps, with fewer than 6 non-stiff steps between."""
    if _stiff(K, s, y_new, y_stage, h_final) > 3.25:
        si[NONSTIFF_HITS] = 0
        si[STIFF_HITS] += 1
        return si[STIFF_HITS] == 15
    si[NONSTIFF_HITS] += 1
    if si[NONSTIFF_HITS] == 6:
        si[STIFF_HITS] = 0
    return False
