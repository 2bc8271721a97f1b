"""Pipeline stage 3 (solver, torch backend) — many networks integrated at once, each with its own steps.

:func:`solve_batched` is the entry point the pipeline calls. It groups networks whose
:class:`~trajlen.spec.NetworkSpec` gives the same vector field, chunks each group to a memory budget,
and runs :func:`integrate_adaptive` (RK23/RK45 with the ``scipy`` or ``matlab`` controller) or
:func:`trajlen.solve.fixed.integrate_fixed` (euler, rk4, fused) on each chunk.

Why it is built this way:

* **Per-network everything.** Every row of the batch has its own ``t``, step size, error, retry state,
  counters and status; the rules in :mod:`trajlen.solve.controllers` are the scalar rules written over
  the batch axis with ``torch.where``. A stiff network therefore never dictates another's steps, and a
  network's steps do not depend on which batch it is in.
* **Finished networks leave.** Rows that finished or failed are frozen (masked) until the next
  compaction, which drops them from the state and from the field (``field.take``). Compaction runs as
  soon as at least ``compact_fraction`` of the rows are dead, checked every ``sync_every`` attempts, so
  the RHS work done stays within about ``1/(1 − compact_fraction)`` of the work the networks need.
* **Few host syncs.** Outputs are written every attempt into preallocated device buffers of
  ``capacity`` steps per row (a rejected row writes into its next free slot, which is simply not
  counted), so the loop never asks the host which rows accepted. The host is consulted only every
  ``sync_every`` attempts (1 on CPU, where it costs nothing; 8 on CUDA), to compact, and to flush
  buffers to host memory before they fill. Device memory is thus ``∝ rows × capacity × N``, bounded
  whatever the number of steps.
* **Dense output after the fact.** For ``refine`` and ``grid`` outputs each accepted step also stores
  its interpolation coefficients ``Q = Kᵀ P`` ``(N, q)``; the output points are evaluated on the host in
  float64 when a network finishes, with scipy's ``P`` (scipy controller) or MATLAB's ``ntrp`` ``BI``
  (matlab controller), as ``y_old + h · Q · [s, s², …]``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np
import torch

from ..models import VectorField
from ..params import Params
from ..spec import InputSpec, NetworkSpec, SolverSpec
from ..trajectory import STATUS_OK, Trajectory
from .controllers import make_controller
from .tableau import TABLEAUS, Tableau, combine

__all__ = ["solve_batched", "integrate_adaptive", "output_points", "grid_times", "rk_step", "RowResult",
           "RunStats", "Recorder", "DEFAULT_MEMORY_BUDGET", "DEFAULT_CAPACITY", "STATUS_CODES"]

log = logging.getLogger(__name__)

#: Default device-memory budget of one chunk (bytes).
DEFAULT_MEMORY_BUDGET = 2 * 1024 ** 3
#: Accepted steps held per row on the device between host flushes.
DEFAULT_CAPACITY = 128
#: On CPU, chunks are also capped so their weight matrices (what every RHS evaluation streams through)
#: stay cache-sized: one network's k×k matrix is read once per evaluation with no reuse, so beyond
#: a few MiB the batched matvec becomes memory-bound and slower per network than B = 1.
CPU_CHUNK_MATRIX_BYTES = 2 * 1024 ** 2
CPU_MIN_CHUNK = 8
#: Row status codes used inside the loop (0 = ok/running) and the Trajectory status they map to.
STATUS_CODES = {0: STATUS_OK, 1: "step_size_underflow", 2: "non_finite", 3: "step_budget"}
_UNDERFLOW, _NON_FINITE, _BUDGET = 1, 2, 3

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


# ---------------------------------------------------------------------------------------------------
# One Runge–Kutta step over the batch
# ---------------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------------
# Per-network results and the device → host recorder
# ---------------------------------------------------------------------------------------------------
@dataclass
class RowResult:
    """What one network's integration produced, on the host in float64.

    Attributes
    ----------
    step_t : (S+1,) accepted step times, starting with t0 = 0
    step_y : (S+1, N) states at ``step_t``
    Q : (S, N, q) or None
        Dense-output coefficients ``Kᵀ P`` of each accepted step (refine/grid outputs only).
    status : one of :data:`STATUS_CODES` values
    message : str
    n_accepted, n_rejected, nfev, njev : int
        ``njev``: Jacobian evaluations (the numba backend's ros23w; 0 for explicit methods).
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
    grid_x: np.ndarray | None = None   # (T, N) states on grid_times, when the solver streamed them

    @classmethod
    def from_code(cls, step_t, step_y, Q, code: int, fail_t: float, max_steps: int, n_accepted: int,
                  n_rejected: int, nfev: int, njev: int = 0, note: str = "") -> RowResult:
        """A row from a solver's integer status code (``STATUS_CODES``) and failure time;
        ``note`` is appended to the message."""
        code = int(code)
        return cls(step_t=step_t, step_y=step_y, Q=Q, status=STATUS_CODES[code],
                   message=_message(code, float(fail_t), max_steps) + note,
                   n_accepted=int(n_accepted), n_rejected=int(n_rejected), nfev=int(nfev),
                   njev=int(njev))


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


def _message(code: int, t: float, max_steps: int) -> str:
    if code == 0:
        return "reached the end of the interval"
    if code == _UNDERFLOW:
        return f"step size underflow at t={t:.6g} (the controller's minimum step was reached)"
    if code == _NON_FINITE:
        return f"non-finite state at t={t:.6g}"
    return f"step budget {max_steps} exhausted at t={t:.6g}"


# ---------------------------------------------------------------------------------------------------
# The adaptive loop
# ---------------------------------------------------------------------------------------------------
# inference_mode: no autograd bookkeeping on the thousands of small ops per solve (at these sizes the
# per-op dispatch cost, not arithmetic, dominates the loop).
@torch.inference_mode()
def integrate_adaptive(field: Any, y0: torch.Tensor, t_end: float, tab: Tableau, controller: Any, *,
                       max_steps: int, dense: bool = False, capacity: int = DEFAULT_CAPACITY,
                       sync_every: int | None = None, compact_fraction: float = 0.1,
                       on_finish: Callable[[int], None] | None = None,
                       stats: RunStats | None = None) -> list[RowResult]:
    """Integrate ``dy/dt = field(t, y)`` for every row from ``t = 0`` to ``t_end``.

    Parameters
    ----------
    field : object
        ``field(t (b,), y (b, N)) -> (b, N)`` and ``field.take(rows: LongTensor) -> field`` restricted
        to those rows (a :class:`~trajlen.models.VectorField` or any stub with that interface).
        ``t`` is passed in the state dtype.
    y0 : (B, N) tensor
        Initial states; their device and dtype are the run's.
    t_end : float
        End of the interval (> 0).
    tab : adaptive Tableau (RK23, RK45)
    controller : :class:`~trajlen.solve.controllers.ScipyController` or ``MatlabController``
    max_steps : int
        Budget of accepted + rejected steps per row, checked before each new step (as the scipy
        backend checks it).
    dense : bool
        Also record the dense-output coefficients ``Kᵀ P`` (``P = controller.interp``).
    capacity, sync_every, compact_fraction : tuning (see the module docstring).
    on_finish : callable(n) or None
        Called with the number of networks that just finished (or failed).
    stats : RunStats or None
        Filled with work counters when given.

    Returns
    -------
    list of RowResult, in row order.
    """
    if not tab.adaptive:
        raise ValueError(f"integrate_adaptive needs an adaptive pair (RK23, RK45), got {tab.name!r}")
    if t_end <= 0:
        raise ValueError(f"t_end must be > 0, got {t_end!r}")
    B, N = y0.shape
    dev, dtype = y0.device, y0.dtype
    if sync_every is None:
        sync_every = 1 if dev.type == "cpu" else 8
    capacity = max(int(capacity), sync_every + 1)
    stats = stats if stats is not None else RunStats()
    stages = tab.evals_per_attempt
    P = torch.as_tensor(controller.interp, dtype=dtype, device=dev) if dense else None
    holder = {"field": field}

    if dtype == torch.float64:
        def rhs(t, y):
            return holder["field"](t, y)
    else:
        def rhs(t, y):   # float32 state: the field sees time in the state dtype
            return holder["field"](t.to(dtype), y)

    rows = list(range(B))
    t0 = torch.zeros(B, dtype=torch.float64, device=dev)
    y = y0.clone()
    f = rhs(t0, y)
    h_abs, extra = controller.initial_step(rhs, t0, y, f, t_end)
    stats.work_evals += B * (1 + extra)
    i64 = dict(dtype=torch.int64, device=dev)
    s = dict(t=t0, h_abs=h_abs, y=y, f=f,
             n_acc=torch.zeros(B, **i64), n_rej=torch.zeros(B, **i64),
             nfev=torch.full((B,), 1 + extra, **i64),
             status=torch.zeros(B, **i64), fail_t=torch.zeros(B, dtype=torch.float64, device=dev),
             running=torch.ones(B, dtype=torch.bool, device=dev),
             new=torch.ones(B, dtype=torch.bool, device=dev))
    controller.init_state(s)
    rec = Recorder(rows, y, capacity, P.shape[1] if dense else 0)
    results: dict[int, RowResult] = {}

    def finish_dead(dead_local: np.ndarray) -> None:
        status = s["status"].cpu().numpy()
        fail_t = s["fail_t"].cpu().numpy()
        counts = {k: s[k].cpu().numpy() for k in ("n_acc", "n_rej", "nfev")}
        for i in dead_local:
            r = rows[i]
            results[r] = RowResult.from_code(*rec.pop(r), status[i], fail_t[i], max_steps,
                                             counts["n_acc"][i], counts["n_rej"][i], counts["nfev"][i])
        if on_finish is not None and len(dead_local):
            on_finish(len(dead_local))

    it = 0
    while True:
        if it % sync_every == 0:
            running = s["running"].cpu().numpy()
            b = len(rows)
            n_dead = b - int(running.sum())
            if n_dead == b or n_dead >= max(1, math.ceil(compact_fraction * b)):
                rec.flush(rows)
                stats.flushes += 1
                finish_dead(np.flatnonzero(~running))
                if n_dead == b:
                    break
                keep_np = np.flatnonzero(running)
                keep = torch.as_tensor(keep_np, device=dev)
                rows = [rows[i] for i in keep_np]
                s = {k: v[keep] for k, v in s.items()}
                holder["field"] = holder["field"].take(keep)
                rec.keep(keep)
                stats.compactions += 1
            elif int(rec.count.max()) + sync_every > rec.capacity:
                rec.flush(rows)
                stats.flushes += 1
        it += 1
        stats.attempts += 1
        live = s["running"]
        t = s["t"]

        # A new step starts for rows that accepted last time: check the budget first.
        new = live & s["new"]
        over = new & (s["n_acc"] + s["n_rej"] >= max_steps)
        s["status"] = torch.where(over, _BUDGET, s["status"])
        s["fail_t"] = torch.where(over, t, s["fail_t"])
        live = live & ~over
        controller.begin_step(s, new & ~over, t_end)
        h_stage, h_final, t_new, t_fsal, ok = controller.attempt(s, t_end)
        under = live & ~ok
        live = live & ok

        y, f = s["y"], s["f"]
        y_new, K = rk_step(rhs, t, y, f, h_stage, h_final, t_fsal, tab)
        stats.work_evals += len(rows) * stages
        s["nfev"] = s["nfev"] + live.to(torch.int64) * stages
        err = controller.error(K, h_final, s, y, y_new)
        acc = controller.accept(err) & live
        rej = live & ~acc
        under = under | (controller.update(s, err, acc, rej) & live)
        bad = acc & ~torch.isfinite(y_new).all(dim=-1)
        good = acc & ~bad

        rec.write(t_new, y_new, (torch.stack(K, dim=-1) @ P) if dense else None)
        rec.advance(good)
        s["n_acc"] = s["n_acc"] + good.to(torch.int64)
        s["n_rej"] = s["n_rej"] + rej.to(torch.int64)
        s["status"] = torch.where(under, _UNDERFLOW, torch.where(bad, _NON_FINITE, s["status"]))
        s["fail_t"] = torch.where(under | bad, t, s["fail_t"])
        s["t"] = torch.where(good, t_new, t)
        s["y"] = torch.where(good[:, None], y_new, y)
        s["f"] = torch.where(good[:, None], K[-1], f)
        s["new"] = good
        finished = good & (t_new >= t_end)
        s["running"] = live & ~under & ~bad & ~finished

    return [results[r] for r in range(B)]


# ---------------------------------------------------------------------------------------------------
# Output points
# ---------------------------------------------------------------------------------------------------
def _interpolate(res: RowResult, t_out: np.ndarray) -> np.ndarray:
    """Dense output at ``t_out`` (each in ``[0, step_t[-1]]``), shape ``(T, N)``.

    Step ``j`` covers ``(step_t[j], step_t[j+1]]``; points that coincide with a step end take the
    stored state exactly, like the scipy backend.
    """
    st, sy, Q = res.step_t, res.step_y, res.Q
    j = np.searchsorted(st, t_out, side="left")       # st[j-1] < t <= st[j]
    out = np.empty((len(t_out), sy.shape[1]))
    exact = (j < len(st)) & (st[np.minimum(j, len(st) - 1)] == t_out)
    out[exact] = sy[j[exact]]
    inner = ~exact
    if inner.any():
        k = j[inner] - 1                               # step index
        h = st[k + 1] - st[k]
        x = (t_out[inner] - st[k]) / h
        p = np.cumprod(np.repeat(x[:, None], Q.shape[2], axis=1), axis=1)   # [s, s², …, s^q]
        # a batched matmul, not einsum: the same sums, 4x faster at T = 2001, N = 100
        out[inner] = sy[k] + h[:, None] * np.matmul(Q[k], p[:, :, None])[:, :, 0]
    return out


def grid_times(solver: SolverSpec, t_end: float, reached: float = math.inf) -> np.ndarray:
    """The uniform output grid, ``solver.grid_points`` times over ``[0, t_end]``, cut at ``reached``
    (the last accepted step of a failed solve)."""
    t = np.linspace(0.0, t_end, solver.grid_points)
    return t[t <= reached]


def output_points(res: RowResult, solver: SolverSpec, t_end: float,
                  interpolate: Callable[[RowResult, np.ndarray], np.ndarray] | None = None,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(t (T,), x (T, N))`` for ``solver.output`` from an adaptive run's steps and dense output.

    The one place that decides *which* points a solve is measured on. ``interpolate(res, t_out)``
    evaluates the dense output at the sorted times ``t_out`` (default: :func:`_interpolate`, numpy;
    the numba backend passes its compiled equivalent).
    """
    st = res.step_t
    if solver.output == "grid" and res.grid_x is not None:
        t_out = grid_times(solver, t_end, st[-1])
        if len(t_out) != len(res.grid_x):
            raise RuntimeError(f"the solver streamed {len(res.grid_x)} grid points, expected "
                               f"{len(t_out)} up to t={st[-1]:.6g}")
        return t_out, res.grid_x
    if solver.output == "steps" or res.Q is None or len(st) < 2 or (
            solver.output == "refine" and solver.refine == 1):
        return st, res.step_y
    if solver.output == "grid":
        t_out = grid_times(solver, t_end, st[-1])
    else:
        # MATLAB Refine: t + (t_new − t)·k/r for k = 1 … r−1, then the step end itself.
        r = solver.refine
        frac = np.arange(1, r) / r
        h = np.diff(st)
        inner = st[:-1, None] + h[:, None] * frac[None, :]
        t_out = np.concatenate([st[:1], np.concatenate([inner, st[1:, None]], axis=1).ravel()])
    return t_out, (interpolate or _interpolate)(res, t_out)


# ---------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------
def _field_key(net: NetworkSpec) -> tuple:
    """What the vector field's code depends on; σ and the weight scaling only change parameters."""
    return (net.model, net.phi, net.width, net.depth, net.recurrence, net.ltc_decay, net.ltc_A)


def _row_bytes(params: Params, solver: SolverSpec, tab: Tableau | None, n: int, itemsize: int,
               capacity: int) -> int:
    """Device bytes one network needs: parameters (twice: ``take`` copies them), RK stages and
    work arrays, and the recorder buffers."""
    p_bytes = sum(a.size for a in params.arrays().values()) * itemsize
    work = ((1 if tab is None else tab.n_stages) + 8) * n * itemsize
    q = 0
    if not solver.fixed_step and solver.output != "steps":
        q = (tab.P if solver.controller == "scipy" else tab.P_matlab).shape[1]
    return 2 * p_bytes + work + Recorder.bytes_per_row(capacity, n, itemsize, q)


def solve_batched(items: Sequence[tuple[NetworkSpec, Params]], inp: InputSpec, solver: SolverSpec,
                  memory_budget_bytes: int | None = None,
                  progress: Callable[[int], None] | None = None) -> list[Trajectory]:
    """Integrate many networks from x(0) = 0 over ``[0, inp.t_end]`` on the torch backend.

    Parameters
    ----------
    items : sequence of (NetworkSpec, Params)
        Networks in any mix of models, activations and σ; networks whose spec gives the same vector
        field (same model, φ, width, depth, recurrence, LTC switches) are integrated together.
    inp : InputSpec
    solver : SolverSpec
        ``method`` RK23/RK45 (``controller`` scipy or matlab) or euler/rk4/fused (step ``dt``);
        ``output`` steps, refine (``refine − 1`` interpolated points per step) or grid
        (``grid_points`` uniform points on ``[0, 2π]``) — fixed-step methods always output their
        step points; ``rtol``, ``atol``, ``max_steps``, ``device``, ``dtype`` (float32: state in
        float32, time in float64).
    memory_budget_bytes : int or None
        Device memory one chunk may use (default :data:`DEFAULT_MEMORY_BUDGET`); each group is split
        into chunks that fit, and the split is logged. On CPU chunks are further capped so their
        weight matrices stay within :data:`CPU_CHUNK_MATRIX_BYTES` (at least :data:`CPU_MIN_CHUNK`
        networks).
    progress : callable(n) or None
        Called with the number of networks that just finished.

    Returns
    -------
    list of Trajectory, in the order of ``items``: ``t (T,)``, ``x (T, N)`` float64, ``step_t``
    (accepted step times incl. 0), status, message and counters (``nfev`` counts RHS evaluations the
    way scipy counts them, including ``select_initial_step``'s for the scipy controller).
    """
    if solver.method not in TABLEAUS and not solver.fixed_step:
        raise ValueError(f"method with the torch backend must be one of RK23, RK45, euler, rk4, "
                         f"fused, got {solver.method!r}")
    budget = DEFAULT_MEMORY_BUDGET if memory_budget_bytes is None else int(memory_budget_bytes)
    if budget <= 0:
        raise ValueError(f"memory_budget_bytes must be > 0, got {memory_budget_bytes!r}")
    device = torch.device(solver.device)
    dtype = _DTYPES[solver.dtype]
    itemsize = torch.finfo(dtype).bits // 8
    t_end = inp.t_end
    out: list[Trajectory | None] = [None] * len(items)

    groups: dict[tuple, list[int]] = {}
    for i, (net, _) in enumerate(items):
        groups.setdefault(_field_key(net), []).append(i)

    if solver.fixed_step:
        from .fixed import FIXED_METHODS, integrate_fixed  # fixed builds on this module's recorder
        tab = FIXED_METHODS[solver.method]
        if solver.output != "steps":
            # Fixed-step methods have no dense output here: their output points are the step points.
            log.info("torch %s: output=%r uses the fixed step points (every dt)", solver.method,
                     solver.output)
    else:
        tab = TABLEAUS[solver.method]

    for idx in groups.values():
        net0, p0 = items[idx[0]]
        n = net0.n_state
        per_row = _row_bytes(p0, solver, tab, n, itemsize, DEFAULT_CAPACITY)
        chunk = max(1, budget // per_row)
        if device.type == "cpu":
            cache_rows = CPU_CHUNK_MATRIX_BYTES // (net0.depth * net0.width ** 2 * itemsize)
            chunk = min(chunk, max(CPU_MIN_CHUNK, cache_rows))
        n_chunks = math.ceil(len(idx) / chunk)
        log.info("torch %s: %d network(s) of %s/%s k=%d depth=%d in %d chunk(s) of <= %d "
                 "(%.1f MiB per network, budget %.0f MiB)", solver.method, len(idx), net0.model,
                 net0.phi, net0.width, net0.depth, n_chunks, chunk, per_row / 2 ** 20, budget / 2 ** 20)
        for c in range(n_chunks):
            sub = idx[c * chunk:(c + 1) * chunk]
            field = VectorField.from_params(net0, inp, [items[i][1] for i in sub], xp=torch,
                                            device=device, dtype=dtype)
            y0 = torch.zeros(len(sub), n, dtype=dtype, device=device)
            if solver.fixed_step:
                res = integrate_fixed(field, y0, t_end, solver.dt, solver.method,
                                      max_steps=solver.max_steps, on_finish=progress)
            else:
                ctrl = make_controller(solver.controller, tab, solver.rtol, solver.atol)
                res = integrate_adaptive(field, y0, t_end, tab, ctrl, max_steps=solver.max_steps,
                                         dense=solver.output != "steps", on_finish=progress)
            for i, r in zip(sub, res):
                if solver.fixed_step:
                    t_out, x_out = r.step_t, r.step_y
                else:
                    t_out, x_out = output_points(r, solver, t_end)
                out[i] = Trajectory(t=t_out, x=x_out, step_t=r.step_t, status=r.status,
                                    message=r.message, n_accepted=r.n_accepted,
                                    n_rejected=r.n_rejected, nfev=r.nfev, njev=0)
    return out  # type: ignore[return-value]
