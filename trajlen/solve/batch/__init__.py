"""Pipeline stage 3 (solver, torch executor) — many networks integrated at once, each with its own steps.

:func:`solve_batched` is the entry point the pipeline calls. It groups networks whose
:class:`~trajlen.spec.NetworkSpec` gives the same vector field, chunks each group to a memory budget,
and runs :func:`~.adaptive.integrate_adaptive` (the explicit pairs, with the ``scipy`` or ``matlab``
controller) or :func:`~.fixed.integrate_fixed` (euler, rk4, fused) on each chunk.

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
  float64 when a network finishes (:func:`trajlen.solve.output.interpolate`), with scipy's ``P``
  (scipy controller) or MATLAB's ``ntrp`` ``BI`` (matlab controller).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence

import torch

from ...models import field_for
from ...params import Params
from ...spec import InputSpec, NetworkSpec, SolverSpec
from ...trajectory import Trajectory
from ..output import interpolate, output_times
from ..registry import METHODS, methods_for
from ..tableau import Tableau
from .adaptive import integrate_adaptive
from .common import DEFAULT_CAPACITY, DTYPES, Recorder, RunStats
from .controllers import make_controller
from .fixed import integrate_fixed, ncps_schedule

__all__ = ["solve_batched", "integrate_adaptive", "integrate_fixed", "make_controller", "RunStats",
           "DEFAULT_MEMORY_BUDGET"]

log = logging.getLogger(__name__)

if os.environ.get("TRAJLEN_TORCH_THREADS"):   # set by python -m trajlen.reproduce --threads
    torch.set_num_threads(int(os.environ["TRAJLEN_TORCH_THREADS"]))

#: Default device-memory budget of one chunk (bytes).
DEFAULT_MEMORY_BUDGET = 2 * 1024 ** 3
#: On CPU, chunks are also capped so their weight matrices (what every RHS evaluation streams through)
#: stay cache-sized: one network's k×k matrix is read once per evaluation with no reuse, so beyond
#: a few MiB the batched matvec becomes memory-bound and slower per network than B = 1.
CPU_CHUNK_MATRIX_BYTES = 2 * 1024 ** 2
CPU_MIN_CHUNK = 8


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
        (``grid_points`` uniform points on the measured window ``[inp.t_start, inp.t_end]``) —
        fixed-step methods always output their
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
    if "torch" not in METHODS.get(solver.method, METHODS["ros23w"]).backends:
        raise ValueError(f"method with the torch backend must be one of {', '.join(methods_for('torch'))}, "
                         f"got {solver.method!r}")
    budget = DEFAULT_MEMORY_BUDGET if memory_budget_bytes is None else int(memory_budget_bytes)
    if budget <= 0:
        raise ValueError(f"memory_budget_bytes must be > 0, got {memory_budget_bytes!r}")
    device = torch.device(solver.device)
    dtype = DTYPES[solver.dtype]
    itemsize = torch.finfo(dtype).bits // 8
    t_end = inp.t_end
    out: list[Trajectory | None] = [None] * len(items)

    groups: dict[tuple, list[int]] = {}
    for i, (net, _) in enumerate(items):
        groups.setdefault(_field_key(net), []).append(i)

    tab = METHODS[solver.method].tableau
    if solver.fixed_step:
        if solver.output != "steps":
            # Fixed-step methods have no dense output here: their output points are the step points.
            log.info("torch %s: output=%r uses the fixed step points (every dt)", solver.method,
                     solver.output)

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
            field = field_for(net0, inp, [items[i][1] for i in sub], xp=torch, device=device,
                              dtype=dtype)
            y0 = torch.zeros(len(sub), n, dtype=dtype, device=device)
            if solver.fixed_step:
                sched = (ncps_schedule(inp, solver.ode_unfolds) if solver.method == "ncps_fused"
                         else None)
                res = integrate_fixed(field, y0, t_end, solver.dt, solver.method,
                                      max_steps=solver.max_steps, on_finish=progress, schedule=sched)
            else:
                ctrl = make_controller(solver.controller, tab, solver.rtol, solver.atol,
                                       period=inp.period)
                res = integrate_adaptive(field, y0, t_end, tab, ctrl, max_steps=solver.max_steps,
                                         dense=solver.output != "steps", on_finish=progress)
            for i, r in zip(sub, res):
                t_out, x_out = r.step_t, r.step_y
                if not solver.fixed_step and r.Q is not None and solver.output != "steps":
                    t_out = output_times(r.step_t, solver.output, solver.refine, solver.grid_points,
                                         t_end, inp.t_start)
                    x_out = interpolate(r.step_t, r.step_y, r.Q, t_out)
                out[i] = Trajectory(t=t_out, x=x_out, step_t=r.step_t, status=r.status,
                                    message=r.message, n_accepted=r.n_accepted,
                                    n_rejected=r.n_rejected, nfev=r.nfev, njev=0).window(inp.t_start)
    return out  # type: ignore[return-value]
