"""Pipeline stage 4 — a trajectory: what a solver hands to the measures.

Every backend (scipy per network, torch batched, static mlp) returns one :class:`Trajectory` per
network, so the measures and the results table never know which solver ran.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Trajectory", "STATUS_OK", "STATUS_WORKER_DIED", "FAILURE_REASONS"]

STATUS_OK = "ok"
#: The row of a task whose worker process died: recorded by the sweep, never copied between stores.
STATUS_WORKER_DIED = "worker_died"
#: Failure statuses a solve may record instead of raising.
FAILURE_REASONS = ("step_size_underflow", "non_finite", "step_budget", "time_limit", "solver_error",
                   STATUS_WORKER_DIED)


class Trajectory:
    """Output points of one solve.

    Attributes
    ----------
    t : (T,) float64
        Output times in the measured window ``[t_start, t_end]`` (``[0, 2π]`` without a transient):
        solver points, solver points + refine points, or a uniform grid.
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
        Counters of the whole solve; ``n_rejected = -1`` where the solver does not expose it (BDF,
        Radau, LSODA).
    n_measured : int
        Accepted steps that end in the measured window (what L counts): ``n_accepted`` unless
        :meth:`window` cut a transient off.
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
        self.n_measured = n_accepted
        self.extra = {} if extra is None else extra

    def window(self, t_start: float) -> Trajectory:
        """This trajectory on the measured window ``[t_start, end]`` (self when ``t_start`` is 0).

        The output points after ``t_start``, and a first point at ``t_start`` itself: the output
        point there if there is one (a grid starts there), else the point where the chord between
        the two output points around ``t_start`` crosses it — the output polyline cut at
        ``t_start``, so that the lengths of the window and of the part before it add up to the
        length of the whole. ``step_t`` becomes ``t_start`` followed by the accepted steps that end
        after it, and :attr:`n_measured` their number (the step that straddles ``t_start`` counts:
        its end is in the window). Counters stay those of the whole solve. A solve that failed
        before ``t_start`` keeps only its last point (its measures are NaN: it is not ok).
        """
        if t_start <= 0.0:
            return self
        t, x = self.t, self.x
        i = int(np.searchsorted(t, t_start, side="right"))    # t[i-1] <= t_start < t[i]
        if i >= len(t) or i == 0:
            t_w, x_w = t[-1:], x[-1:]
        else:
            t0, t1 = t[i - 1], t[i]
            w = (t_start - t0) / (t1 - t0)
            first = x[i - 1] if w == 0.0 else x[i - 1] + w * (x[i] - x[i - 1])
            t_w = np.concatenate([[t_start], t[i:]])
            x_w = np.concatenate([first[None, :], x[i:]])
        st = self.step_t
        step_w = np.concatenate([[t_start], st[st > t_start]])
        out = Trajectory(t=t_w, x=x_w, step_t=step_w, status=self.status, message=self.message,
                         n_accepted=self.n_accepted, n_rejected=self.n_rejected, nfev=self.nfev,
                         njev=self.njev, extra=self.extra)
        out.n_measured = len(step_w) - 1
        return out

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
