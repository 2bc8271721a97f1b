"""The torch executor's fixed-step methods: explicit Euler, RK4, fused LTC step, ncps's unfolding.

All rows of a batch step in lockstep on ``t_i = i·dt`` (the last step is clipped to end exactly at
``t_end``); every step is an accepted step and an output point. The fused step is the paper's Eq. 3,

    x(t + Δt) = (x(t) + Δt · drive(t, x)) / (1 + Δt · leak(t, x)),

with ``dx/dt = drive − leak ⊙ x`` taken from the vector field's own ``leak_drive`` (the one place each
model's equations are written), so it is a semi-implicit Euler step: first order, and unconditionally
stable for the leak. Euler and RK4 reuse :func:`trajlen.solve.batch.common.rk_step` with their tableaus.

``ncps_fused`` is how ncps integrates its LTC (``LTCCell._ode_solver``): the same fused step with ncps's
ε in the denominator, ``(x + Δt·drive) / (1 + Δt·leak + Δt·ε/C)`` (ncps's ``num / (den + ε)`` with
num and den multiplied by Δt/C), ``ode_unfolds`` steps of ``Δt = δt / ode_unfolds`` per input step δt,
the input read at the step's input sample throughout (ncps holds a sequence element over its step):
:func:`ncps_schedule`.

A row whose state becomes non-finite is marked ``non_finite``, keeps its last finite state and
records nothing more; the other rows go on unchanged (rows are independent in every operation).
Failed rows are dropped from the batch whenever the buffers are flushed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..registry import METHODS
from ..result import BUDGET, NON_FINITE, RowResult
from ..tableau import Tableau
from .common import DEFAULT_CAPACITY, Recorder, RunStats, rk_step

__all__ = ["integrate_fixed", "fused_step", "step_times", "ncps_schedule", "FIXED_METHODS"]

#: method name → tableau (``"fused"`` has none: it is its own one-stage formula).
FIXED_METHODS: dict[str, Tableau | None] = {n: m.tableau for n, m in METHODS.items() if m.kind == "fixed"}


def step_times(t_end: float, dt: float) -> np.ndarray:
    """Fixed-step times ``0, dt, 2dt, …, t_end`` (the last step shortened to land on ``t_end``).

    A remainder below ``1e-9·dt`` (round-off in ``t_end/dt``) does not make an extra step.
    """
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt must be a finite number > 0, got {dt!r}")
    m = max(1, math.ceil(t_end / dt - 1e-9))
    t = np.arange(m + 1, dtype=np.float64) * dt
    t[-1] = t_end
    return t


def ncps_schedule(inp: Any, unfolds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ncps's steps over the input samples ``t_m`` (``linspace(0, 2π, n)``): ``unfolds`` steps of
    ``Δt = δt / unfolds`` per input step, each reading the input at ``t_m``.

    Returns ``(times (M+1,), read (M,), h (M,))`` with ``M = unfolds·(n − 1)``: the step times
    ``t_m + u·Δt`` (ending at 2π), the time each step reads the input at, and the step sizes.
    """
    from ...inputs import sample_times

    ts = sample_times(inp)
    h = inp.dt / unfolds
    read = np.repeat(ts[:-1], unfolds)
    times = np.append(read + np.tile(np.arange(unfolds) * h, len(ts) - 1), ts[-1])
    return times, read, np.full(len(read), h)


def fused_step(field: Any, t: torch.Tensor, y: torch.Tensor, h: torch.Tensor,
               eps: Any = None) -> torch.Tensor:
    """Paper Eq. 3 for every row: ``(y + h·drive) / (1 + h·leak)`` with ``(leak, drive)`` at ``(t, y)``;
    with ``eps`` (ncps's ``ε/C``, ``(b, N)``) ``(y + h·drive) / (1 + h·leak + h·eps)``.

    Parameters
    ----------
    field : object with ``leak_drive(t (b,), y (b, N)) -> (leak, drive)``, each ``(b, N)``
    t : (b,) float64 times the field is read at (step start; ncps: the input sample)
    y : (b, N) states
    h : (b,) float64 step sizes
    """
    leak, drive = field.leak_drive(t.to(y.dtype), y)
    hh = h.to(y.dtype)[:, None]
    if eps is not None:
        return (y + hh * drive) / (1.0 + hh * leak + hh * eps)
    return (y + hh * drive) / (1.0 + hh * leak)


@torch.inference_mode()
def integrate_fixed(field: Any, y0: torch.Tensor, t_end: float, dt: float, method: str, *,
                    max_steps: int, capacity: int = DEFAULT_CAPACITY,
                    on_finish: Callable[[int], None] | None = None,
                    stats: RunStats | None = None, schedule: tuple | None = None) -> list[RowResult]:
    """Integrate every row with a fixed step ``dt`` from ``t = 0`` to ``t_end``.

    Parameters
    ----------
    field : object
        ``field(t, y)``, ``field.leak_drive(t, y)`` (fused) and ``field.take(rows)``; ``t`` (b,) and
        ``y`` (b, N) as in :func:`trajlen.solve.batch.adaptive.integrate_adaptive`.
    y0 : (B, N) tensor
    t_end, dt : float
        Interval end and step (time units of the ODE).
    method : {"euler", "rk4", "fused", "ncps_fused"}
    max_steps : int
        If the grid has more steps, the first ``max_steps`` are taken and the rows end with status
        ``step_budget``.
    schedule : ``(times, read, h)`` of :func:`ncps_schedule` (``ncps_fused``; ``dt`` unused), or
        None: steps of ``dt`` (:func:`step_times`), each reading the field at its start.

    Returns
    -------
    list of RowResult (no dense output), in row order. ``nfev`` counts RHS evaluations: 1 per step for
    euler and fused (one ``leak_drive``), 4 for rk4.
    """
    if method not in FIXED_METHODS:
        raise ValueError(f"method must be one of {', '.join(FIXED_METHODS)}, got {method!r}")
    tab = FIXED_METHODS[method]
    if schedule is None:
        times = step_times(t_end, dt)
        read, hs = times[:-1], times[1:] - times[:-1]
    else:
        times, read, hs = schedule
    ncps = method == "ncps_fused"
    n_total = len(times) - 1
    n_steps = min(n_total, max_steps)
    B = y0.shape[0]
    dev = y0.device
    stats = stats if stats is not None else RunStats()
    evals = 1 if tab is None else tab.evals_per_attempt

    def rhs(t, y):
        return field(t.to(y.dtype), y)

    rows = list(range(B))
    rec = Recorder(rows, y0, capacity)
    y = y0.clone()
    running = torch.ones(B, dtype=torch.bool, device=dev)
    status = torch.zeros(B, dtype=torch.int64, device=dev)
    fail_t = torch.zeros(B, dtype=torch.float64, device=dev)
    n_acc = torch.zeros(B, dtype=torch.int64, device=dev)
    results: dict[int, RowResult] = {}
    since_flush = 0   # every row records one point per step, so the buffers fill in lockstep

    def finish(local: np.ndarray) -> None:
        st, ft, na = status.cpu().numpy(), fail_t.cpu().numpy(), n_acc.cpu().numpy()
        for i in local:
            r = rows[i]
            step_t, step_y, _ = rec.pop(r)
            nfev = int(na[i]) * evals + (evals if int(st[i]) == NON_FINITE else 0)
            results[r] = RowResult.from_code(step_t, step_y, None, st[i], ft[i], max_steps=max_steps,
                                             n_accepted=na[i], n_rejected=0, nfev=nfev)
        if on_finish is not None and len(local):
            on_finish(len(local))

    for i in range(n_steps):
        b = len(rows)
        t = torch.full((b,), float(read[i]), dtype=torch.float64, device=dev)
        h = torch.full((b,), float(hs[i]), dtype=torch.float64, device=dev)
        if tab is None:
            y_new = fused_step(field, t, y, h, field.eps_over_cm if ncps else None)
        else:
            y_new, _ = rk_step(rhs, t, y, rhs(t, y), h, h, None, tab)
        stats.work_evals += b * evals
        stats.attempts += 1
        finite = torch.isfinite(y_new).all(dim=-1)
        bad = running & ~finite
        good = running & finite
        status = torch.where(bad, NON_FINITE, status)
        fail_t = torch.where(bad, float(times[i]), fail_t)
        rec.write(torch.full_like(t, float(times[i + 1])), y_new)
        rec.advance(good)
        n_acc = n_acc + good.to(torch.int64)
        y = torch.where(good[:, None], y_new, y)
        running = good
        since_flush += 1
        if since_flush == rec.capacity:
            since_flush = 0
            rec.flush(rows)
            stats.flushes += 1
            alive = running.cpu().numpy()
            if not alive.all():
                finish(np.flatnonzero(~alive))
                if not alive.any():
                    break
                keep_np = np.flatnonzero(alive)
                keep = torch.as_tensor(keep_np, device=dev)
                rows = [rows[j] for j in keep_np]
                field = field.take(keep)
                y, running, status, fail_t, n_acc = (v[keep] for v in (y, running, status, fail_t,
                                                                       n_acc))
                rec.keep(keep)
                stats.compactions += 1
    if rows:
        if n_total > max_steps:
            # The grid needs more steps than the budget allows: rows still running fail here.
            status = torch.where(running, BUDGET, status)
            fail_t = torch.where(running, float(times[n_steps]), fail_t)
        rec.flush(rows)
        finish(np.arange(len(rows)))
    return [results[r] for r in range(B)]
