"""Pipeline stage 3 (solver, compiled CPU backend) — one network at a time, in machine code (numba).

Why a third executor: on a CPU, a batch of small networks does not make the arithmetic cheaper — each
network still streams its own k × k matrix once per RHS evaluation — so batching can only amortise
per-operation dispatch cost, and at k = 100 that cost (≈ 5 µs per torch op, ≈ 1 µs per numpy op,
~60 ops per RHS) is most of the time in both the ``solve_ivp`` loop and the torch batch
(BENCHMARKS.md). A compiled loop over one network keeps its weights in cache and pays no dispatch.

Nothing here restates a rule: the kernel runs the models', activations' and input's own definitions
(:mod:`trajlen.solve.compiled.field`), the tableaus of :mod:`trajlen.solve.methods`, the step-size
rules of :mod:`trajlen.solve.controllers` and the output points and dense output of
:mod:`trajlen.solve.output`. Each method family is its own kernel (:mod:`.explicit`,
:mod:`.rosenbrock`), so a job compiles only the loops it runs.

A solve runs as kernel calls that each continue it (:mod:`.state`); between calls this module stores
the block of output points just written, checks a wall-time limit, and switches between RK45 and
ros23w for ``RK45+ros23w``. Memory is the output plus 8 bytes per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from ...params import Params
from ...spec import InputSpec, NetworkSpec, SolverSpec
from ...trajectory import Trajectory
from ..controllers import matlab_max_step
from ..output import grid_times
from ..registry import METHODS
from ..result import RowResult
from .jit import CACHE, is_cached
from .pack import jumps, pack_field
from .state import (
    FAIL_T,
    H_ABS,
    H_REF,
    HANDBACK,
    IN_WINDOW,
    MODE_GRID,
    MODE_REFINE,
    MODE_STEPS,
    N_ACC,
    N_FLOAT,
    N_GRID,
    N_INT,
    N_OUT,
    N_REJ,
    N_STEP,
    NFEV,
    NJEV,
    PAUSE,
    STIFF,
    T_SWITCH,
    T_WINDOW,
    WARMED,
    T,
)

__all__ = ["solve_compiled", "integrate_one", "rhs_one", "jac_diag_one", "kernel_cached",
           "warm_up", "CACHE"]

_MODES = {"steps": MODE_STEPS, "refine": MODE_REFINE, "grid": MODE_GRID}
#: Output block rows: the first block is small (most solves are short), each next one twice as
#: large, up to BLOCK_BYTES of states.
FIRST_BLOCK_ROWS = 256
BLOCK_BYTES = 8 * 2 ** 20
#: Accepted steps per kernel call when a wall-time limit is set (the limit is checked between calls).
TIMED_STEPS = 2000
_NO_LIMIT = 2 ** 62


def _kernels(kind: str):
    """The compiled loops a method needs, imported (and so compiled or loaded) on first use."""
    from . import explicit

    if kind == "explicit":
        return explicit, None
    from . import rosenbrock

    return explicit, rosenbrock


def kernel_cached(methods: Sequence[str]) -> bool:
    """Are the kernels ``methods`` need already compiled into this machine's cache?"""
    names = {"trajlen.solve.compiled.explicit.explicit_run"}
    if any(METHODS[m].kind in ("rosenbrock", "switching") for m in methods):
        names.add("trajlen.solve.compiled.rosenbrock.ros_run")
    return all(is_cached(n) for n in names)


class _Output:
    """The output blocks of one solve (see :mod:`.state`)."""

    def __init__(self, solver: SolverSpec, n: int, inp: InputSpec, y0: np.ndarray):
        self.mode = _MODES[solver.output]
        self.r = solver.refine if self.mode == MODE_REFINE else 1
        self.n = n
        self.max_rows = max(self.r + 1, BLOCK_BYTES // (8 * max(n, 1)))
        self.rows = min(FIRST_BLOCK_ROWS * self.r, self.max_rows)
        self.t_blocks: list[np.ndarray] = []
        self.x_blocks: list[np.ndarray] = []
        self.st_blocks: list[np.ndarray] = []
        if self.mode == MODE_GRID:
            self.gt = grid_times(solver.grid_points, inp.t_end, t_start=inp.t_start)
            self.gx = np.empty((len(self.gt), n))
        else:
            self.gt, self.gx = np.empty(0), np.empty((0, n))
        self.y0 = y0

    def start(self, si: np.ndarray) -> tuple:
        """The first block, holding the point t = 0 (on a grid only where the grid starts there: after
        a transient it starts at the measured window, and the steps write it)."""
        out = self.block(si)
        out[4][0] = 0.0
        si[N_STEP] = 1
        if self.mode == MODE_GRID:
            si[N_GRID] = 0
            if self.gt[0] == 0.0:
                self.gx[0] = self.y0
                si[N_GRID] = 1
        else:
            out[2][0], out[3][0] = 0.0, self.y0
            si[N_OUT] = 1
        return out

    def block(self, si: np.ndarray) -> tuple:
        rows = self.rows
        self.rows = min(2 * rows, self.max_rows)
        si[N_OUT] = si[N_STEP] = 0
        pts = 0 if self.mode == MODE_GRID else rows
        self._out = (self.mode, self.r, np.empty(pts), np.empty((pts, self.n)), np.empty(rows),
                     self.gt, self.gx)
        return self._out

    def keep(self, si: np.ndarray) -> None:
        """Store what the current block holds."""
        _, _, ot, ox, ost, _, _ = self._out
        self.st_blocks.append(ost[:si[N_STEP]])
        if self.mode != MODE_GRID:
            self.t_blocks.append(ot[:si[N_OUT]])
            self.x_blocks.append(ox[:si[N_OUT]])

    def points(self, si: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        if self.mode == MODE_GRID:
            m = int(si[N_GRID])
            return self.gt[:m], [self.gx[:m]]
        return np.concatenate(self.t_blocks), self.x_blocks


def _method_args(name: str, controller: str) -> tuple:
    tab = METHODS[name].tableau
    P = tab.P if controller == "scipy" else tab.P_matlab
    return (tab.C, np.ascontiguousarray(tab.A), tab.B, tab.E, np.ascontiguousarray(P),
            int(tab.error_order), float(tab.matlab_shrink_floor))


def _run(kind: str, fld, solver: SolverSpec, inp: InputSpec, sf, si, y, K, out: _Output, step_limit,
         clock: Callable[[], bool]) -> tuple[int, str]:
    """Drive the kernel calls of one solve to its end; returns ``(status code, note)``."""
    explicit, ros = _kernels(kind)
    ctl_code = 0 if solver.controller == "scipy" else 1
    rtol, atol, max_steps = float(solver.rtol), float(solver.atol), int(solver.max_steps)
    t_end, hmax = float(inp.t_end), float(matlab_max_step(inp.period))
    rk = "RK45" if kind == "switching" else solver.method
    phase = "ros" if kind == "rosenbrock" else "rk"
    detect = kind == "switching" and not jumps(fld)
    h_ref, note = 0.0, ""
    method = _method_args(rk, solver.controller) if phase == "rk" else None
    blk = out.start(si)
    while True:
        if phase == "rk":
            code = explicit.explicit_run(fld, method, (ctl_code, rtol, atol, max_steps, t_end, detect,
                                                       step_limit, hmax), sf, si, y, K, blk)
        else:
            code = ros.ros_run(fld, (ctl_code, rtol, atol, max_steps, t_end, h_ref, step_limit, hmax),
                               sf, si, y, K[0], blk)
        if code == PAUSE:
            out.keep(si)
            if clock():
                return -1, note
            blk = out.block(si)
            continue
        if code == STIFF:
            note = f"; stiff from t={sf[T_SWITCH]:.6g}: ros23w from there"
            phase, h_ref, detect = "ros", float(sf[H_REF]), False
            sf[T_WINDOW], si[IN_WINDOW], si[WARMED] = sf[T], 0, 0   # the hand-back window starts here
            continue
        if code == HANDBACK:
            note += (f" to t={sf[T]:.6g}, then RK45 again (ros23w's steps had fallen below half of "
                     "RK45's)")
            phase, sf[H_ABS] = "rk", h_ref
            method = _method_args("RK45", solver.controller)
            continue
        out.keep(si)
        return code, note


def integrate_one(net: NetworkSpec, inp: InputSpec, params: Params, solver: SolverSpec) -> RowResult:
    """Integrate one network from x(0) = 0 over ``[0, inp.t_end]`` in float64.

    Methods: the explicit pairs of the registry (``RK23``, ``RK45``, ``Tsit5``) under scipy's or
    MATLAB's step rules; ``ros23w``; ``RK45+ros23w`` (RK45 until Hairer's stiffness test fires, then
    ros23w, and RK45 again if ros23w's steps fall below half of RK45's; the message says when). With
    MATLAB's layer-wise hard-tanh, RK45+ros23w is RK45: that RHS jumps when a whole layer saturates,
    a Rosenbrock step assumes a smooth f, and on the reference LTCs the switch moved lengths that RK45
    gets within 3–26 % by up to 83 % (8 networks per group, BENCHMARKS.md).

    The output points (``solver.output``) are written as the steps are accepted: the result's
    ``out_t``, ``out_x``; memory is the output plus 8 bytes per step. ``solver.max_seconds`` is
    checked between kernel calls of :data:`TIMED_STEPS` steps.
    """
    kind = METHODS[solver.method].kind
    fld = pack_field(net, inp, params)
    n = net.n_state
    y = np.zeros(n)
    tab = METHODS["RK23" if kind == "rosenbrock" else ("RK45" if kind == "switching"
                                                        else solver.method)].tableau
    K = np.empty((tab.n_stages + 1, n))
    sf, si = np.zeros(N_FLOAT), np.zeros(N_INT, dtype=np.int64)   # the kernel starts the solve
    out = _Output(solver, n, inp, y.copy())
    limit = solver.max_seconds
    start = time.perf_counter()
    code, note = _run(kind, fld, solver, inp, sf, si, y, K, out,
                      _NO_LIMIT if limit is None else TIMED_STEPS,
                      lambda: limit is not None and time.perf_counter() - start > limit)
    step_t = np.concatenate(out.st_blocks)
    r = RowResult(step_t=step_t, step_y=np.empty((len(step_t), 0)), Q=None, status="", message="",
                  n_accepted=int(si[N_ACC]), n_rejected=int(si[N_REJ]), nfev=int(si[NFEV]),
                  njev=int(si[NJEV]))
    if code == -1:
        r.status, r.message = "time_limit", f"time limit {limit}s hit at t={sf[T]:.6g}" + note
    else:
        done = RowResult.from_code(step_t, r.step_y, None, code, sf[FAIL_T], max_steps=solver.max_steps,
                                   n_accepted=r.n_accepted, n_rejected=r.n_rejected, nfev=r.nfev,
                                   njev=r.njev, note=note)
        r.status, r.message = done.status, done.message
    r.out_t, r.out_x = out.points(si)
    return r


def solve_compiled(items: Sequence[tuple[NetworkSpec, Params]], inp: InputSpec, solver: SolverSpec,
                   progress: Callable[[int], None] | None = None) -> list[Trajectory]:
    """Integrate networks one after another with the compiled kernel (``backend="numba"``); returns
    one :class:`~trajlen.trajectory.Trajectory` per network, in order."""
    if "numba" not in METHODS.get(solver.method, METHODS["fused"]).backends:
        raise ValueError(f"method {solver.method!r} does not run on the numba backend")
    out = []
    for net, params in items:
        r = integrate_one(net, inp, params, solver)
        out.append(Trajectory(t=r.out_t, blocks=r.out_x, step_t=r.step_t, status=r.status,
                              message=r.message, n_accepted=r.n_accepted, n_rejected=r.n_rejected,
                              nfev=r.nfev, njev=r.njev).window(inp.t_start))
        if progress is not None:
            progress(1)
    return out


def rhs_one(net: NetworkSpec, inp: InputSpec, params: Params, t: float, y: np.ndarray) -> np.ndarray:
    """``dx/dt`` of one network at time ``t`` and state ``y (N,)`` from the compiled kernel."""
    from .field import rhs

    out = np.empty(net.n_state)
    rhs(float(t), np.ascontiguousarray(y, dtype=np.float64), out, pack_field(net, inp, params))
    return out


def jac_diag_one(net: NetworkSpec, inp: InputSpec, params: Params, t: float,
                 y: np.ndarray) -> np.ndarray:
    """Diagonal of ``∂(dx/dt)/∂x`` of one network at ``(t, y (N,))``, shape ``(N,)``."""
    from .field import jac_diag

    out = np.empty(net.n_state)
    jac_diag(float(t), np.ascontiguousarray(y, dtype=np.float64), out, pack_field(net, inp, params))
    return out


def warm_up(methods: Sequence[str]) -> None:
    """Compile (or load) the kernels ``methods`` need, on a two-unit network: the driver of a sweep
    calls it before its workers start, so they load the kernels instead of each compiling them.
    A switching method warms ros23w's kernel too: on this small network its stiffness test would not
    fire, and each worker would compile ros23w on its first stiff network."""
    from ...params import sample_params

    wanted = []
    for m in methods:
        wanted += [m, "ros23w"] if METHODS[m].kind == "switching" else [m]
    for m in dict.fromkeys(wanted):
        if "numba" not in METHODS[m].backends:
            continue
        net = NetworkSpec(model="ltc", activation="tanh", width=2, semantics="paper")
        solver = SolverSpec(backend="numba", method=m, semantics="paper", output="refine", refine=2)
        integrate_one(net, InputSpec(semantics="paper"), sample_params(net, 0, 0), solver)

