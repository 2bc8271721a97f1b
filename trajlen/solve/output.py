"""Pipeline stage 3 (solver: the output axis) — which points a solve is measured on, and the dense
output that gives the states between steps. Shared by every executor.

* ``steps``: the accepted steps themselves (with t0 = 0).
* ``refine``: MATLAB's ``Refine = r``: per accepted step the points ``t + h·j/r`` (j = 1 … r − 1), then
  the step's end.
* ``grid``: ``grid_points`` uniform times on ``[t_start, t_end]`` (cut at the last step reached):
  the measured window, ``[0, 2π]`` without a transient.

After a transient T the measured window is ``[T, T + 2π]``: every executor ends with
:meth:`trajlen.trajectory.Trajectory.window`, which keeps the output points in it.

Dense output is ``y(t_old + x·h) = y_old + h·Σ_m Q_m x^m`` with ``Q = Kᵀ P`` the step's coefficients
(:func:`dense_point`); a requested time equal to a step end takes the step's state exactly.
"""

from __future__ import annotations

import math

import numpy as np

from .._xp import jitable
from .registry import OUTPUTS

__all__ = ["OUTPUTS", "refine_time", "dense_point", "output_times", "grid_times", "interpolate"]


@jitable
def refine_time(t_old, h, j, r):
    """The ``j``-th of the ``r − 1`` inner Refine points of a step ``(t_old, t_old + h]``."""
    return t_old + h * (j / r)


@jitable
def dense_point(y_old, h, Q, x):
    """``y_old + h·Σ_m Q[m]·x^{m+1}``: the dense output at the fraction ``x`` of a step of size ``h``.
    ``Q`` is indexed by the power first: ``(q,)`` for one component, or ``(q, …)`` for many."""
    acc = 0.0 * x
    pw = 1.0 + 0.0 * x
    for m in range(len(Q)):
        pw = pw * x
        acc = acc + Q[m] * pw
    return y_old + h * acc


def grid_times(grid_points: int, t_end: float, reached: float = math.inf,
               t_start: float = 0.0) -> np.ndarray:
    """The uniform output grid of ``grid_points`` times on ``[t_start, t_end]`` (the measured window),
    cut at ``reached`` (the last accepted step of a failed solve)."""
    t = np.linspace(t_start, t_end, grid_points)
    return t[t <= reached]


def output_times(step_t: np.ndarray, output: str, refine: int, grid_points: int,
                 t_end: float, t_start: float = 0.0) -> np.ndarray:
    """The output times of a solve whose accepted steps end at ``step_t (S+1,)`` (incl. t0); a grid
    covers the measured window ``[t_start, t_end]``, steps and Refine points the whole solve."""
    if output == "steps" or len(step_t) < 2 or (output == "refine" and refine == 1):
        return step_t
    if output == "grid":
        return grid_times(grid_points, t_end, step_t[-1], t_start)
    j = np.arange(1, refine)
    h = np.diff(step_t)
    inner = refine_time(step_t[:-1, None], h[:, None], j[None, :], refine)
    return np.concatenate([step_t[:1], np.concatenate([inner, step_t[1:, None]], axis=1).ravel()])


def interpolate(step_t: np.ndarray, step_y: np.ndarray, Q: np.ndarray, t_out: np.ndarray) -> np.ndarray:
    """Dense output at sorted ``t_out`` (each in ``[0, step_t[-1]]``) from stored steps: ``step_y
    (S+1, N)``, ``Q (S, N, q)``; returns ``(T, N)``. Step ``j`` covers ``(step_t[j], step_t[j+1]]``."""
    st, sy = step_t, step_y
    j = np.searchsorted(st, t_out, side="left")       # st[j-1] < t <= st[j]
    out = np.empty((len(t_out), sy.shape[1]))
    exact = (j < len(st)) & (st[np.minimum(j, len(st) - 1)] == t_out)
    out[exact] = sy[j[exact]]
    inner = ~exact
    if inner.any():
        k = j[inner] - 1                               # step index
        h = st[k + 1] - st[k]
        x = (t_out[inner] - st[k]) / h
        out[inner] = dense_point(sy[k], h[:, None], np.moveaxis(Q[k], -1, 0), x[:, None])
    return out
