"""The torch executor's shared pieces: one Runge–Kutta step over the batch, and the device → host
recorder of accepted steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field

import numpy as np
import torch

from ..tableau import Tableau, combine

__all__ = ["rk_step", "RunStats", "Recorder", "DEFAULT_CAPACITY", "DTYPES"]

#: Accepted steps held per row on the device between host flushes.
DEFAULT_CAPACITY = 128
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def rk_step(rhs: Callable, t: torch.Tensor, y: torch.Tensor, f0: torch.Tensor, h_stage: torch.Tensor,
            h_final: torch.Tensor, t_fsal: torch.Tensor | None, tab: Tableau):
    """One explicit Runge–Kutta step of every row.

    Parameters
    ----------
    rhs : callable ``(t (b,) float64, y (b, N)) -> (b, N)``
    t : (b,) float64
        Step start times.
    y, f0 : (b, N)
        States and ``rhs(t, y)`` (the FSAL stage of the previous step for adaptive pairs).
    h_stage : (b,) float64
        Step used for the stage abscissae and increments (``K_i = rhs(t + C_i h, y + h Σ A_ij K_j)``,
        summed as scipy's ``np.dot(K[:i].T, A[i, :i]) * h``).
    h_final : (b,) float64
        Step used for ``y_new = y + h Σ B_j K_j`` (MATLAB's "purified" ``t_new − t``; scipy: the same h).
    t_fsal : (b,) float64 or None
        Where the FSAL stage ``rhs(t_fsal, y_new)`` is evaluated (adaptive pairs only).
    tab : Tableau

    Returns
    -------
    y_new : (b, N)
    K : list of (b, N)
        The ``s`` stages, plus the FSAL stage for adaptive pairs.
    """
    hs = h_stage[:, None] if y.dtype == h_stage.dtype else h_stage.to(y.dtype)[:, None]
    K = [f0]
    for i in range(1, tab.n_stages):
        dy = combine(K, tab.A[i, :i]) * hs
        K.append(rhs(t + float(tab.C[i]) * h_stage, y + dy))
    hf = h_final[:, None] if y.dtype == h_final.dtype else h_final.to(y.dtype)[:, None]
    y_new = y + hf * combine(K, tab.B)
    if tab.adaptive:
        K.append(rhs(t_fsal, y_new))
    return y_new, K


@dataclass
class RunStats:
    """Counters of one batched run (for benchmarks and the work-efficiency test)."""

    work_evals: int = 0          # Σ over attempts of (rows in the batch × RHS evaluations)
    attempts: int = 0
    compactions: int = 0
    flushes: int = 0
    extra: dict = dc_field(default_factory=dict)


class Recorder:
    """Preallocated device buffers of ``capacity`` accepted steps per row, flushed to host lists.

    ``write`` stores the candidate step of *every* row in its next free slot without asking which rows
    accepted (no host sync); ``advance`` then counts the slot only for rows that accepted.

    Parameters
    ----------
    rows : list of int
        Original index of each batch row.
    y0 : (b, N) tensor
        Initial states (recorded as the first point at t0 = 0).
    capacity : int
    q : int
        Columns of the dense-output coefficients per step (0 = none stored).
    """

    def __init__(self, rows: list[int], y0: torch.Tensor, capacity: int, q: int = 0):
        b, n = y0.shape
        dev, dt = y0.device, y0.dtype
        self.capacity, self.q = capacity, q
        self.t = torch.zeros(b, capacity, dtype=torch.float64, device=dev)
        self.y = torch.zeros(b, capacity, n, dtype=dt, device=dev)
        self.Q = torch.zeros(b, capacity, n, q, dtype=dt, device=dev) if q else None
        self.count = torch.zeros(b, dtype=torch.int64, device=dev)
        self._ar = torch.arange(b, device=dev)
        y0_host = y0.detach().cpu().numpy().astype(np.float64)
        self.host_t = {r: [np.zeros(1)] for r in rows}
        self.host_y = {r: [y0_host[i:i + 1]] for i, r in enumerate(rows)}
        self.host_Q = {r: [] for r in rows}

    @staticmethod
    def bytes_per_row(capacity: int, n: int, itemsize: int, q: int) -> int:
        return capacity * (8 + n * itemsize * (1 + q)) + 8

    def write(self, t_new: torch.Tensor, y_new: torch.Tensor, Q: torch.Tensor | None = None) -> None:
        idx = self.count
        self.t[self._ar, idx] = t_new
        self.y[self._ar, idx] = y_new
        if self.Q is not None:
            self.Q[self._ar, idx] = Q

    def advance(self, accepted: torch.Tensor) -> None:
        self.count += accepted.to(torch.int64)

    def flush(self, rows: list[int]) -> None:
        """Copy every row's recorded steps to host memory and empty the device buffers."""
        counts = self.count.cpu().numpy()
        m = int(counts.max()) if len(counts) else 0
        if m > 0:
            t = self.t[:, :m].cpu().numpy()
            y = self.y[:, :m].cpu().numpy()
            Q = self.Q[:, :m].cpu().numpy() if self.Q is not None else None
            for i, r in enumerate(rows):
                c = int(counts[i])
                if c == 0:
                    continue
                # astype copies: the device buffers (numpy views of them on CPU) are reused.
                self.host_t[r].append(t[i, :c].astype(np.float64))
                self.host_y[r].append(y[i, :c].astype(np.float64))
                if Q is not None:
                    self.host_Q[r].append(Q[i, :c].astype(np.float64))
        self.count.zero_()

    def keep(self, local: torch.Tensor) -> None:
        """Keep only the batch rows ``local`` (after a flush, so the buffers hold nothing)."""
        b = len(local)
        self.t, self.y = self.t[:b], self.y[:b]
        if self.Q is not None:
            self.Q = self.Q[:b]
        self.count = self.count[:b]
        self._ar = self._ar[:b]

    def pop(self, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(step_t, step_y, Q)`` of original row ``r``, removed from the recorder."""
        t = np.concatenate(self.host_t.pop(r))
        y = np.concatenate(self.host_y.pop(r))
        qs = self.host_Q.pop(r)
        Q = (np.concatenate(qs) if qs else np.zeros((0, y.shape[1], self.q))) if self.q else None
        return t, y, Q
