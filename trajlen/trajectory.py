"""Pipeline stage 4 — a trajectory: what a solver hands to the measures.

Every backend (scipy per network, torch batched, static mlp) returns one :class:`Trajectory` per
network, so the measures and the results table never know which solver ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Trajectory", "STATUS_OK", "FAILURE_REASONS"]

STATUS_OK = "ok"
#: Failure statuses a solve may record instead of raising.
FAILURE_REASONS = ("step_size_underflow", "non_finite", "step_budget", "time_limit", "solver_error",
                   "worker_died")


@dataclass
class Trajectory:
    """Output points of one solve.

    Attributes
    ----------
    t : (T,) float64
        Output times in [0, 2π]: solver points, solver points + refine points, or a uniform grid.
    x : (T, depth·width) float64
        States at ``t``, layers stacked (layer ℓ is columns ``ℓk:(ℓ+1)k``).
    step_t : (S+1,) float64
        Times of the accepted steps, starting with t0 = 0 (what "solver steps" means).
    status : str
        ``"ok"`` or one of :data:`FAILURE_REASONS`.
    message : str
        Human-readable detail (solver message, failure time).
    n_accepted, n_rejected, nfev, njev : int
        Counters; ``n_rejected = -1`` where the solver does not expose it (BDF, Radau, LSODA).
    """

    t: np.ndarray
    x: np.ndarray
    step_t: np.ndarray
    status: str = STATUS_OK
    message: str = ""
    n_accepted: int = 0
    n_rejected: int = 0
    nfev: int = 0
    njev: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def layer(self, layer: int, width: int) -> np.ndarray:
        """States of one layer, shape ``(T, width)``."""
        return self.x[:, layer * width:(layer + 1) * width]
