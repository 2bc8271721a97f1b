"""Pipeline stage 3 (solver) — what one adaptive or fixed-step solve hands back, on every backend.

Solvers report their outcome as an integer code (:data:`STATUS_CODES`, the same codes in the compiled
kernel, the torch loop and here) and a failure time; :meth:`RowResult.from_code` turns that into the
status string and message a result row carries (:data:`trajlen.trajectory.FAILURE_REASONS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..trajectory import STATUS_OK

__all__ = ["RowResult", "STATUS_CODES", "OK", "UNDERFLOW", "NON_FINITE", "BUDGET", "status_message"]

#: Status codes of a running or finished solve (0 = ok/running).
OK, UNDERFLOW, NON_FINITE, BUDGET = 0, 1, 2, 3
STATUS_CODES = {OK: STATUS_OK, UNDERFLOW: "step_size_underflow", NON_FINITE: "non_finite",
                BUDGET: "step_budget"}


def status_message(code: int, t: float, max_steps: int) -> str:
    """The row message of a solve that ended with status ``code`` at time ``t``."""
    if code == OK:
        return "reached the end of the interval"
    if code == UNDERFLOW:
        return f"step size underflow at t={t:.6g} (the controller's minimum step was reached)"
    if code == NON_FINITE:
        return f"non-finite state at t={t:.6g}"
    return f"step budget {max_steps} exhausted at t={t:.6g}"


@dataclass
class RowResult:
    """What one network's integration produced, on the host in float64.

    Attributes
    ----------
    step_t : (S+1,) accepted step times, starting with t0 = 0
    step_y : (S+1, N) states at ``step_t`` (``(S+1, 0)`` where the solver streamed its output)
    Q : (S, N, q) or None
        Dense-output coefficients ``Kᵀ P`` of each accepted step, where the output is evaluated after
        the solve (the torch backend's refine and grid outputs).
    status, message : the row's status (one of :data:`STATUS_CODES`' values) and message
    n_accepted, n_rejected, nfev, njev : int
        ``njev``: Jacobian evaluations (ros23w; 0 for explicit methods).
    out_t, out_x : (T,), (T, N) or None
        The output points, where the solver wrote them as it went (the compiled kernel).
    """

    step_t: np.ndarray
    step_y: np.ndarray
    Q: np.ndarray | None
    status: str
    message: str
    n_accepted: int
    n_rejected: int
    nfev: int
    njev: int = 0
    out_t: np.ndarray | None = None
    out_x: np.ndarray | None = None

    @classmethod
    def from_code(cls, step_t, step_y, Q, code: int, fail_t: float, *, max_steps: int, n_accepted: int,
                  n_rejected: int, nfev: int, njev: int = 0, note: str = "") -> RowResult:
        """A row from a solver's integer status code and failure time; ``note`` is appended to the
        message."""
        code = int(code)
        return cls(step_t=step_t, step_y=step_y, Q=Q, status=STATUS_CODES[code],
                   message=status_message(code, float(fail_t), max_steps) + note,
                   n_accepted=int(n_accepted), n_rejected=int(n_rejected), nfev=int(nfev),
                   njev=int(njev))
