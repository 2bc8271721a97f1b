"""Pieces the compiled solver loops share: error norms (the controllers' per-component rules reduced
in a loop), finiteness, and writing a step's output points as the step is accepted."""

from __future__ import annotations

import math

from ..controllers import matlab_scaled, scipy_scaled
from ..output import dense_point, refine_time
from ..result import BUDGET
from .jit import njit
from .state import MODE_GRID, MODE_REFINE, N_ACC, N_GRID, N_OUT, N_REJ, N_STEP, PAUSE

__all__ = ["rms_scipy", "max_matlab", "all_finite", "write_step", "block_full", "copy", "must_stop"]


@njit
def rms_scipy(e, h, y, y_new, rtol, atol):
    """scipy's error norm: RMS over components of :func:`~trajlen.solve.controllers.scipy_scaled`."""
    acc = 0.0
    for j in range(e.shape[0]):
        v = scipy_scaled(e[j], h, y[j], y_new[j], rtol, atol)
        acc += v * v
    return math.sqrt(acc) / math.sqrt(e.shape[0])


@njit
def max_matlab(e, y, y_new, threshold):
    """MATLAB's: the max over components of :func:`~trajlen.solve.controllers.matlab_scaled`; a NaN
    anywhere is the result."""
    m = 0.0
    for j in range(e.shape[0]):
        v = matlab_scaled(e[j], y[j], y_new[j], threshold)
        if v > m or v != v:
            m = v
    return m


@njit
def all_finite(v):
    for x in v:
        if not math.isfinite(x):
            return False
    return True


@njit
def copy(dst, src):
    """``dst[:] = src`` as a loop: numba's slice assignment compiles a shape-mismatch error message
    (string formatting) that cost ~5 s of every cold compile."""
    for j in range(src.shape[0]):
        dst[j] = src[j]


@njit
def must_stop(out, si, steps, step_limit, max_steps):
    """Before a new step of either loop: PAUSE (the output block is full, or this call took its
    ``step_limit`` steps), BUDGET (the solve used its step budget) or 0 (go on)."""
    if block_full(out, si) or steps >= step_limit:
        return PAUSE
    if si[N_ACC] + si[N_REJ] >= max_steps:
        return BUDGET
    return 0


@njit
def block_full(out, si):
    """Is there no room in this call's output block for one more step?"""
    mode, r, ot, ox, ost, gt, gx = out
    if si[N_STEP] >= ost.shape[0]:
        return True
    return mode != MODE_GRID and si[N_OUT] + r > ot.shape[0]


@njit
def _dense(out_row, y, t, t_new, y_new, Qs, tt):
    """The state at ``tt ∈ [t, t_new]`` from the step's dense output (exact at the step's ends)."""
    if tt == t_new:
        copy(out_row, y_new)
        return
    h = t_new - t
    x = (tt - t) / h
    for c in range(y.shape[0]):
        out_row[c] = dense_point(y[c], h, Qs[c], x)


@njit
def write_step(out, si, t, y, t_new, y_new, Qs):
    """Record an accepted step ``(t, y) → (t_new, y_new)`` with dense-output coefficients
    ``Qs (N, q)``: its end time, and its output points (the step end; the Refine points; or the grid
    points it covers), computed as :func:`trajlen.solve.output.interpolate` computes them from stored
    steps."""
    mode, r, ot, ox, ost, gt, gx = out
    ost[si[N_STEP]] = t_new
    si[N_STEP] += 1
    if mode == MODE_GRID:
        i = si[N_GRID]
        while i < gt.shape[0] and gt[i] <= t_new:
            _dense(gx[i], y, t, t_new, y_new, Qs, gt[i])
            i += 1
        si[N_GRID] = i
        return
    i = si[N_OUT]
    if mode == MODE_REFINE:
        h = t_new - t
        for j in range(1, r):
            tt = refine_time(t, h, j, r)
            ot[i] = tt
            if tt == t:
                copy(ox[i], y)
            else:
                _dense(ox[i], y, t, t_new, y_new, Qs, tt)
            i += 1
    ot[i] = t_new
    copy(ox[i], y_new)
    si[N_OUT] = i + 1


