"""Pipeline stage 4 — a trajectory: what a solver hands to the measures.

Every backend (scipy per network, torch batched, static mlp) returns one :class:`Trajectory` per
network, so the measures and the results table never know which solver ran.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Trajectory", "STATUS_OK", "FAILURE_REASONS"]

STATUS_OK = "ok"
#: Failure statuses a solve may record instead of raising.
FAILURE_REASONS = ("step_size_underflow", "non_finite", "step_budget", "time_limit", "solver_error",
                   "worker_died")


class Trajectory:
    """Output points of one solve.

    Attributes
    ----------
    t : (T,) float64
        Output times in [0, 2π]: solver points, solver points + refine points, or a uniform grid.
    x : (T, depth·width) float64
        States at ``t``, layers stacked (layer ℓ is columns ``ℓk:(ℓ+1)k``). A solver that wrote its
        output in blocks of rows passes ``blocks`` instead; ``x`` then joins them on first use, and
        :meth:`layer` gathers one layer without joining the rest (memory: the output once, plus one
        layer).
    step_t : (S+1,) float64
        Times of the accepted steps, starting with t0 = 0 (what "solver steps" means).
    status : str
        ``"ok"`` or one of :data:`FAILURE_REASONS`.
    message : str
        Human-readable detail (solver message, failure time).
    n_accepted, n_rejected, nfev, njev : int
        Counters; ``n_rejected = -1`` where the solver does not expose it (BDF, Radau, LSODA).
    """

    def __init__(self, t: np.ndarray, x: np.ndarray | None = None, step_t: np.ndarray | None = None,
                 status: str = STATUS_OK, message: str = "", n_accepted: int = 0, n_rejected: int = 0,
                 nfev: int = 0, njev: int = 0, extra: dict | None = None, *,
                 blocks: list[np.ndarray] | None = None):
        if (x is None) == (blocks is None):
            raise ValueError("a Trajectory needs exactly one of x and blocks")
        if blocks is not None and len(blocks) == 1:
            x, blocks = blocks[0], None
        self.t = t
        self._x = x
        self._blocks = blocks
        self.step_t = t[:1] if step_t is None else step_t
        self.status, self.message = status, message
        self.n_accepted, self.n_rejected, self.nfev, self.njev = n_accepted, n_rejected, nfev, njev
        self.extra = {} if extra is None else extra

    @property
    def x(self) -> np.ndarray:
        if self._x is None:
            self._x = np.concatenate(self._blocks) if self._blocks else np.zeros((0, 0))
            self._blocks = None
        return self._x

    @property
    def n_points(self) -> int:
        return len(self.t)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def layer_blocks(self, layer: int, width: int) -> list[np.ndarray]:
        """One layer's states as row blocks in time order (views: nothing is copied)."""
        cols = slice(layer * width, (layer + 1) * width)
        return [b[:, cols] for b in (self._blocks if self._x is None else [self._x])]

    def layer(self, layer: int, width: int) -> np.ndarray:
        """States of one layer, shape ``(T, width)`` (a view when the states are one array)."""
        cols = slice(layer * width, (layer + 1) * width)
        if self._x is not None:
            return self._x[:, cols]
        return np.concatenate([b[:, cols] for b in self._blocks])
