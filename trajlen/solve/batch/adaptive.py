"""The torch executor's adaptive loop: many networks integrated at once, each with its own steps.

Every row of the batch has its own ``t``, step size, error, retry state, counters and status; the
controllers (:mod:`.controllers`) apply the shared step-size rules over the batch axis. A stiff
network therefore never dictates another's steps. Rows that finished or failed are frozen (masked)
until the next compaction, which drops them from the state and from the field (``field.take``).
Compaction runs as soon as at least ``compact_fraction`` of the rows are dead, checked every
``sync_every`` attempts, so the RHS work done stays within about ``1/(1 − compact_fraction)`` of the
work the networks need. Outputs are written every attempt into preallocated device buffers
(:class:`~.common.Recorder`), so the loop never asks the host which rows accepted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..result import BUDGET, NON_FINITE, UNDERFLOW, RowResult
from ..tableau import Tableau
from .common import DEFAULT_CAPACITY, Recorder, RunStats, rk_step

__all__ = ["integrate_adaptive"]


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
            results[r] = RowResult.from_code(*rec.pop(r), status[i], fail_t[i], max_steps=max_steps,
                                             n_accepted=counts["n_acc"][i],
                                             n_rejected=counts["n_rej"][i], nfev=counts["nfev"][i])
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
        s["status"] = torch.where(over, BUDGET, s["status"])
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
        s["status"] = torch.where(under, UNDERFLOW, torch.where(bad, NON_FINITE, s["status"]))
        s["fail_t"] = torch.where(under | bad, t, s["fail_t"])
        s["t"] = torch.where(good, t_new, t)
        s["y"] = torch.where(good[:, None], y_new, y)
        s["f"] = torch.where(good[:, None], K[-1], f)
        s["new"] = good
        finished = good & (t_new >= t_end)
        s["running"] = live & ~under & ~bad & ~finished

    return [results[r] for r in range(B)]
