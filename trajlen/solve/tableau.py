"""Pipeline stage 3 (solver, torch backend) — Butcher tableaus and dense-output matrices.

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

__all__ = ["Tableau", "RK23", "RK45", "EULER", "RK4", "TABLEAUS", "FIXED_TABLEAUS", "combine"]


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
        MATLAB's ``BI`` (ntrp23/ntrp45).
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


def _a(rows) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


#: Bogacki–Shampine 3(2) (scipy ``RK23``, MATLAB ``ode23``).
RK23 = Tableau(
    name="RK23",
    C=_a([0, 1 / 2, 3 / 4]),
    A=_a([[0, 0, 0],
          [1 / 2, 0, 0],
          [0, 3 / 4, 0]]),
    B=_a([2 / 9, 1 / 3, 4 / 9]),
    order=3,
    E=_a([5 / 72, -1 / 12, -1 / 9, 1 / 8]),
    error_order=2,
    P=_a([[1, -4 / 3, 5 / 9],
          [0, 1, -2 / 3],
          [0, 4 / 3, -8 / 9],
          [0, -1, 1]]),
    P_matlab=_a([[1, -4 / 3, 5 / 9],
                 [0, 1, -2 / 3],
                 [0, 4 / 3, -8 / 9],
                 [0, -1, 1]]),
)

#: Dormand–Prince 5(4) (scipy ``RK45``, MATLAB ``ode45``).
RK45 = Tableau(
    name="RK45",
    C=_a([0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1]),
    A=_a([[0, 0, 0, 0, 0],
          [1 / 5, 0, 0, 0, 0],
          [3 / 40, 9 / 40, 0, 0, 0],
          [44 / 45, -56 / 15, 32 / 9, 0, 0],
          [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0],
          [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656]]),
    B=_a([35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]),
    order=5,
    E=_a([-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40]),
    error_order=4,
    P=_a([[1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
          [0, 0, 0, 0],
          [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
          [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
          [0, 127303824393 / 49829197408, -318862633887 / 49829197408,
           701980252875 / 199316789632],
          [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
          [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423]]),
    P_matlab=_a([[1, -183 / 64, 37 / 12, -145 / 128],
                 [0, 0, 0, 0],
                 [0, 1500 / 371, -1000 / 159, 1000 / 371],
                 [0, -125 / 32, 125 / 12, -375 / 64],
                 [0, 9477 / 3392, -729 / 106, 25515 / 6784],
                 [0, -11 / 7, 11 / 3, -55 / 28],
                 [0, 3 / 2, -4, 5 / 2]]),
)

#: Explicit Euler.
EULER = Tableau(name="euler", C=_a([0]), A=_a([[0]]), B=_a([1]), order=1)

#: The classical fourth-order Runge–Kutta method.
RK4 = Tableau(
    name="rk4",
    C=_a([0, 1 / 2, 1 / 2, 1]),
    A=_a([[0, 0, 0, 0],
          [1 / 2, 0, 0, 0],
          [0, 1 / 2, 0, 0],
          [0, 0, 1, 0]]),
    B=_a([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
    order=4,
)

TABLEAUS: dict[str, Tableau] = {"RK23": RK23, "RK45": RK45}
FIXED_TABLEAUS: dict[str, Tableau] = {"euler": EULER, "rk4": RK4}
