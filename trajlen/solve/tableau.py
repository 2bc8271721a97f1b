"""Pipeline stage 3 (solver: the method axis) — a Runge–Kutta method as its Butcher tableau and
dense-output matrices; the methods themselves are one file each in :mod:`trajlen.solve.methods`.

A Runge–Kutta method is only its coefficients (as in ``scipy.integrate._ivp.rk``): nodes ``C``, stage
matrix ``A``, weights ``B``, error weights ``E`` (over the stages plus the FSAL stage ``f(t+h, y_new)``)
and the dense-output matrix ``P``. The adaptive pairs hold *exactly* scipy 1.17's values (tests compare
them element by element), so the ``scipy`` controller takes the steps ``solve_ivp`` takes.

``P_matlab`` is MATLAB's interpolant for the same pair: ``BI`` of ``ntrp23.m`` (equal to scipy's ``P``)
and of ``ntrp45.m`` (Dormand–Prince's own continuous extension, *not* scipy's Shampine-optimised one).
Source followed: MATLAB R2024 ``toolbox/matlab/funfun/private/ntrp45.m`` and ``ntrp23.m`` as published
in the public repository ``ING-RB/Drone_pick-place``; both evaluate ``y + f·(h·BI)·cumprod([s;s;s;s])``
with ``s = (t_interp − t)/h``, the same form as scipy's ``RkDenseOutput``.

Both interpolants are evaluated as ``y(t_old + s·h) = y_old + h · (Kᵀ P) · [s, s², …, s^q]`` with
``K`` the ``(n_stages + 1)`` stage derivatives of the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Tableau", "combine", "array"]


@dataclass(frozen=True, eq=False)
class Tableau:
    """An explicit Runge–Kutta method.

    Attributes
    ----------
    name : str
    C : (s,) float64
        Nodes; stage ``i`` is evaluated at ``t + C[i]·h``.
    A : (s, s) float64
        Strictly lower-triangular stage matrix.
    B : (s,) float64
        Weights of the propagated solution.
    order : int
        Order of the propagated solution.
    E : (s + 1,) float64 or None
        Error-estimate weights over the ``s`` stages and the FSAL stage (adaptive pairs only).
    error_order : int or None
        Order of the embedded error estimator (scipy's ``error_estimator_order``).
    P : (s + 1, q) float64 or None
        scipy's dense-output matrix.
    P_matlab : (s + 1, q) float64 or None
        MATLAB's ``BI`` (ntrp23/ntrp45); for a pair MATLAB lacks, the pair's own interpolant.
    matlab_shrink_floor : float
        Under MATLAB's controller, the floor of the first shrink factor after a failed step
        (``ode45``: 0.1, ``ode23``: 0.5).
    """

    name: str
    C: np.ndarray
    A: np.ndarray
    B: np.ndarray
    order: int
    E: np.ndarray | None = None
    error_order: int | None = None
    P: np.ndarray | None = None
    P_matlab: np.ndarray | None = None
    matlab_shrink_floor: float = 0.1

    @property
    def n_stages(self) -> int:
        return len(self.C)

    @property
    def adaptive(self) -> bool:
        return self.E is not None

    @property
    def evals_per_attempt(self) -> int:
        """RHS evaluations per attempted step: ``s`` for both kinds — an FSAL pair reuses stage 0 from
        the previous step but evaluates ``f(t + h, y_new)``; a fixed method evaluates all ``s`` stages."""
        return self.n_stages


def combine(K, w):
    """``Σ_j w_j K_j`` over stage arrays ``K`` (numpy or torch, any shape), summed left to right and
    skipping zero weights, as ode45 writes its sums. Returns None when every weight is zero.

    Kept as separate multiply and add (no fused ``alpha`` add): a fused multiply-add rounds
    differently and, on problems at the stability limit, flips step decisions against scipy/MATLAB."""
    out = None
    for kj, wj in zip(K, w):
        if wj == 0.0:
            continue
        term = kj * float(wj)
        out = term if out is None else out + term
    return out


def array(rows) -> np.ndarray:
    """A float64 coefficient array (for the method files)."""
    return np.array(rows, dtype=np.float64)
