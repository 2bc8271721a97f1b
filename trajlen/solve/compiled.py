"""Pipeline stage 3 (solver, compiled CPU backend) — one network at a time, in machine code (numba).

Why a third solver path: on a CPU, a batch of small networks does not make the arithmetic cheaper —
each network still streams its own k × k matrix once per RHS evaluation — so batching can only
amortise per-operation dispatch cost, and at k = 100 that cost (≈ 5 µs per torch op, ≈ 1 µs per
numpy op, ~60 ops per RHS) is most of the time in both the ``solve_ivp`` loop and the torch batch
(BENCHMARKS.md). A compiled loop over one network keeps its weights in cache, pays no dispatch at
all, and does the same arithmetic. So on CPU this backend (``backend="numba"``) is the fast one;
the torch batch remains the GPU path. Measured side by side in ``benchmarks/bench_solvers.py``.

What is shared, not rewritten:

* **the models' equations** — the kernel calls the same ``leak_drive`` functions of
  :mod:`trajlen.models.node`, ``ctrnn`` and ``ltc`` (they are ``register_jitable``), with the same
  :class:`~trajlen.models.LayerCoeffs` built by :class:`~trajlen.models.VectorField`;
* **the method** — the Butcher tableaus and dense-output matrices of :mod:`trajlen.solve.tableau`;
* **the step-size rules** — the scalar versions of :mod:`trajlen.solve.controllers`' ``scipy`` and
  ``matlab`` controllers, line for line (each ``torch.where`` is an ``if``);
* **the output points** — :func:`trajlen.solve.batched.output_points` decides them from the recorded
  steps; the dense output is evaluated there by a compiled twin of ``batched._interpolate`` (tested
  equal to 1e-13).

What the kernel writes itself, because numba cannot call the array-namespace code: the layer glue
(pre-activations ``u W + b [+ x W_r]``), the five activations and the circle input. Tests hold
each to :class:`~trajlen.models.VectorField` (RHS equal to ~1e-15 relative for every model,
activation and semantics) and the whole solve to the torch backend's steps.

Limits: float64 only (float32 is a torch option); ``max_seconds`` is not checked inside the kernel
(the step budget ``max_steps`` is).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numba
import numpy as np
from numba import types
from numba.extending import overload

from ..activations import ACTIVATIONS
from ..models import MODEL_EQUATIONS, LayerCoeffs, VectorField
from ..models import ctrnn as _ctrnn
from ..models import ltc as _ltc
from ..models import node as _node
from ..params import Params
from ..spec import InputSpec, NetworkSpec, SolverSpec
from ..trajectory import Trajectory
from .batched import RowResult, output_points
from .controllers import (
    MATLAB_FIRST_SHRINK_FLOOR,
    MATLAB_HMIN_EPS,
    MATLAB_MAX_STEP_FRACTION,
    MATLAB_STRETCH,
    MAX_FACTOR,
    MIN_FACTOR,
    SAFETY,
)
from .tableau import TABLEAUS

__all__ = ["solve_compiled", "integrate_one", "rhs_one", "ACTIVATION_CODES", "MODEL_CODES"]

MODEL_CODES = {"node": 0, "ctrnn": 1, "ltc": 2}
ACTIVATION_CODES = {"tanh": 0, "sigmoid": 1, "relu": 2, "hardtanh": 3, "hardtanh_matlab": 4}
_CONTROLLER_CODES = {"scipy": 0, "matlab": 1}
assert set(MODEL_CODES) == set(MODEL_EQUATIONS) and set(ACTIVATION_CODES) == set(ACTIVATIONS)

_OK, _UNDERFLOW, _NON_FINITE, _BUDGET = 0, 1, 2, 3


def _cache_dir() -> Path:
    """Where compiled kernels are cached: a folder named after a hash of every source file the
    kernel compiles in (this module, the models, the controllers), because numba's own cache only
    watches the file of the function it caches and would otherwise reuse a kernel built from an old
    ``ltc.py``."""
    root = Path(__file__).resolve().parents[1]
    files = [Path(__file__), root / "_xp.py", root / "solve" / "controllers.py",
             *sorted((root / "models").glob("*.py"))]
    h = hashlib.sha256(numba.__version__.encode())
    for f in files:
        h.update(f.read_bytes())
    base = os.environ.get("TRAJLEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "trajlen")
    return Path(base) / "numba" / h.hexdigest()[:16]


@contextlib.contextmanager
def _numba_cache_dir(path: Path):
    old = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(path)
    try:
        yield
    finally:
        numba.config.CACHE_DIR = old


_CACHE = _cache_dir()


def njit(fn):
    """``numba.njit`` with an on-disk cache in :func:`_cache_dir` (compiling the kernel takes ~20 s;
    loading it ~1 s); without a writable cache folder, compile in memory."""
    try:
        _CACHE.mkdir(parents=True, exist_ok=True)
        with _numba_cache_dir(_CACHE):
            return numba.njit(cache=True)(fn)
    except (OSError, RuntimeError):
        return numba.njit(fn)


@overload(abs)
def _abs_array(v):
    """Builtin ``abs`` on arrays inside compiled code (numba has it for scalars only), so the models'
    ``abs(f)`` compiles as written for numpy and torch."""
    if isinstance(v, types.Array):
        return lambda v: np.abs(v)
    return None
_INITIAL_CAPACITY = 256


# ---------------------------------------------------------------------------------------------------
# The vector field of one network
# ---------------------------------------------------------------------------------------------------
@njit
def _phi(act, p):
    """φ(p) in place for one layer's pre-activations ``p (k,)`` (see trajlen.activations)."""
    k = p.shape[0]
    if act == 0:
        for j in range(k):
            p[j] = math.tanh(p[j])
    elif act == 1:
        for j in range(k):
            p[j] = 1.0 / (1.0 + math.exp(-p[j]))
    elif act == 2:
        for j in range(k):
            if p[j] < 0.0:
                p[j] = 0.0
    elif act == 3:
        for j in range(k):
            if p[j] < -1.0:
                p[j] = -1.0
            elif p[j] > 1.0:
                p[j] = 1.0
    else:  # MATLAB Htanh.m on a whole layer: all ≥ 1 → ones, all ≤ −1 → −ones, else unchanged
        hi = True
        lo = True
        for j in range(k):
            hi = hi and p[j] >= 1.0
            lo = lo and p[j] <= -1.0
        if hi:
            p[:] = 1.0
        elif lo:
            p[:] = -1.0


@njit
def _input(t, exact, table, inv_h, last):
    """I(t) = (sin t, cos t), exact or linearly interpolated from the sample table (CircleInput)."""
    u = np.empty(2)
    if exact:
        u[0] = math.sin(t)
        u[1] = math.cos(t)
        return u
    s = t * inv_h
    if s < 0.0:
        s = 0.0
    elif s > last:
        s = last
    i = math.floor(s)
    w = s - i
    ii = int(i)
    for c in range(2):
        v0 = table[ii, c]
        u[c] = v0 + w * (table[ii + 1, c] - v0)
    return u


@njit
def _pre(u, W, k_in, b):
    """``u @ W[:k_in] + b`` for one layer, shape (k,)."""
    k = W.shape[1]
    p = np.zeros(k)
    for i in range(k_in):
        ui = u[i]
        for j in range(k):
            p[j] += ui * W[i, j]
    for j in range(k):
        p[j] = p[j] + b[j]
    return p


@njit
def _rhs(t, y, out, net, flags, inp):
    """``dx/dt`` of one network into ``out (N,)``; ``net`` = (W, b, W_r, b_r, inv_tau, A, A_r)."""
    W, b, W_r, b_r, inv_tau, A, A_r = net
    model, act, shared, gate, abs_decay = flags
    exact, table, inv_h, last = inp
    n, k = b.shape
    u = _input(t, exact, table, inv_h, last)
    k_in = 2
    for layer in range(n):
        xl = y[layer * k:(layer + 1) * k]
        p = _pre(u, W[layer], k_in, b[layer])
        if shared:
            p = p + _pre(xl, W_r[layer], k, np.zeros(k))
        _phi(act, p)
        c = LayerCoeffs(inv_tau[layer], A[layer], A_r[layer], abs_decay)
        if model == 0:
            leak, drive = _node.leak_drive(xl, p, None, c)
        elif model == 1:
            leak, drive = _ctrnn.leak_drive(xl, p, None, c)
        elif gate:
            g = _pre(xl, W_r[layer], k, b_r[layer])
            _phi(act, g)
            leak, drive = _ltc.leak_drive(xl, p, g, c)
        else:
            leak, drive = _ltc.leak_drive(xl, p, None, c)
        for j in range(k):
            out[layer * k + j] = drive[j] - leak[j] * xl[j]
        u = xl
        k_in = k


# ---------------------------------------------------------------------------------------------------
# One adaptive solve (scalar versions of trajlen.solve.controllers)
# ---------------------------------------------------------------------------------------------------
@njit
def _combine(K, w, m, out):
    """``Σ_{j<m} w_j K_j`` left to right, skipping zero weights (tableau.combine); False if all zero."""
    first = True
    for j in range(m):
        wj = w[j]
        if wj == 0.0:
            continue
        if first:
            for i in range(out.shape[0]):
                out[i] = K[j, i] * wj
            first = False
        else:
            for i in range(out.shape[0]):
                out[i] = out[i] + K[j, i] * wj
    return not first


@njit
def _rms(x):
    s = 0.0
    for v in x:
        s += v * v
    return math.sqrt(s) / math.sqrt(x.shape[0])


@njit
def _eps(t):
    a = abs(t)
    return np.nextafter(a, np.inf) - a


@njit
def _integrate(net, flags, inp, n_state, t_end, C, Amat, Bw, E, P, controller, error_order,
               first_floor, rtol, atol, max_steps, dense):
    s = C.shape[0]
    q = P.shape[1]
    y = np.zeros(n_state)
    f = np.empty(n_state)
    _rhs(0.0, y, f, net, flags, inp)
    nfev = 1
    t = 0.0
    threshold = atol / rtol               # MATLAB: AbsTol/RelTol
    pw = 1.0 / (error_order + 1)          # MATLAB's exponent
    exponent = -1.0 / (error_order + 1)   # scipy's exponent
    # -- initial step ------------------------------------------------------------------------------
    if controller == 0:   # scipy select_initial_step
        scale = atol + np.abs(y) * rtol
        d0 = _rms(y / scale)
        d1 = _rms(f / scale)
        if d0 < 1e-5 or d1 < 1e-5:
            h0 = 1e-6
        else:
            h0 = 0.01 * d0 / d1
        if h0 > t_end:
            h0 = t_end
        y1 = y + h0 * f
        f1 = np.empty(n_state)
        _rhs(t + h0, y1, f1, net, flags, inp)
        nfev += 1
        d2 = _rms((f1 - f) / scale) / h0
        if d1 <= 1e-15 and d2 <= 1e-15:
            h1 = max(1e-6, h0 * 1e-3)
        else:
            h1 = (0.01 / max(d1, d2)) ** pw
        h_abs = min(100 * h0, h1, t_end)
        hmax_user = math.inf
    else:                 # ode45's initial absh
        hmax_user = MATLAB_MAX_STEP_FRACTION * t_end
        hmin = MATLAB_HMIN_EPS * _eps(t)
        hmax = hmax_user if hmax_user > hmin else hmin
        absh = min(hmax, t_end)
        rh = 0.0
        for i in range(n_state):
            wt = abs(y[i])
            if wt < threshold:
                wt = threshold
            v = abs(f[i] / wt)
            if v > rh:
                rh = v
        rh = rh / (0.8 * rtol ** pw)
        if absh * rh > 1:
            absh = 1.0 / rh
        h_abs = absh if absh > hmin else hmin
    # -- recorded steps ------------------------------------------------------------------------------
    cap = _INITIAL_CAPACITY
    st = np.empty(cap)
    sy = np.empty((cap, n_state))
    sq = np.empty((cap if dense else 0, n_state, q))
    st[0] = 0.0
    sy[0] = y
    n_rec = 1
    K = np.empty((s + 1, n_state))
    K[0] = f
    tmp = np.empty(n_state)
    y_stage = np.empty(n_state)
    y_new = np.empty(n_state)
    n_acc = 0
    n_rej = 0
    status = _OK
    fail_t = 0.0
    failed = False
    done = False
    new = True
    h = h_abs
    min_step = 0.0
    while True:
        if new:
            if n_acc + n_rej >= max_steps:
                status = _BUDGET
                fail_t = t
                break
            if controller == 0:
                min_step = 10.0 * abs(np.nextafter(t, np.inf) - t)
                if h_abs < min_step:
                    h_abs = min_step
            else:
                hmin = MATLAB_HMIN_EPS * _eps(t)
                hmax = hmax_user if hmax_user > hmin else hmin
                absh = min(hmax, max(hmin, h_abs))
                rest = t_end - t
                done = MATLAB_STRETCH * absh >= abs(rest)
                if done:
                    h = rest
                    absh = abs(h)
                else:
                    h = absh
                h_abs = absh
            failed = False
        # -- the step to try
        if controller == 0:
            if h_abs < min_step:
                status = _UNDERFLOW
                fail_t = t
                break
            t_new = t + h_abs
            if t_new > t_end:
                t_new = t_end
            h_stage = t_new - t
            h_abs = abs(h_stage)
            h_final = h_stage
            t_fsal = t + h_stage
        else:
            t_new = t_end if done else t + h
            h_stage = h
            h_final = t_new - t
            t_fsal = t_new
        # -- the Runge–Kutta stages
        for i in range(1, s):
            _combine(K, Amat[i], i, tmp)
            for j in range(n_state):
                y_stage[j] = y[j] + tmp[j] * h_stage
            _rhs(t + C[i] * h_stage, y_stage, K[i], net, flags, inp)
        _combine(K, Bw, s, tmp)
        for j in range(n_state):
            y_new[j] = y[j] + h_final * tmp[j]
        _rhs(t_fsal, y_new, K[s], net, flags, inp)
        nfev += s
        # -- error and decision
        _combine(K, E, s + 1, tmp)
        if controller == 0:
            acc_sum = 0.0
            for j in range(n_state):
                sc = atol + max(abs(y[j]), abs(y_new[j])) * rtol
                v = tmp[j] * h_final / sc
                acc_sum += v * v
            err = math.sqrt(acc_sum) / math.sqrt(n_state)
            accept = err < 1.0
        else:
            m = 0.0
            for j in range(n_state):
                wt = max(abs(y[j]), abs(y_new[j]))
                if wt < threshold:
                    wt = threshold
                v = abs(tmp[j] / wt)
                if v > m or v != v:
                    m = v
            err = h_abs * m
            accept = not (err > rtol)
        if controller == 0:
            raw = SAFETY * err ** exponent
            if accept:
                if err == 0:
                    grow = MAX_FACTOR
                else:
                    grow = raw if raw < MAX_FACTOR else MAX_FACTOR
                if failed and grow > 1.0:
                    grow = 1.0
                h_abs = h_abs * grow
            else:
                h_abs = h_abs * (raw if raw > MIN_FACTOR else MIN_FACTOR)
                failed = True
        else:
            absh = h_abs
            hmin = MATLAB_HMIN_EPS * _eps(t)
            if accept:
                if not failed:
                    temp = 1.25 * (err / rtol) ** pw
                    h_abs = absh / temp if temp > 0.2 else 5.0 * absh
            else:
                if absh <= hmin:
                    status = _UNDERFLOW
                    fail_t = t
                    n_rej += 1
                    break
                if failed:
                    h_abs = max(hmin, 0.5 * absh)
                else:
                    first = 0.8 * (rtol / err) ** pw
                    if first < first_floor:
                        first = first_floor
                    h_abs = max(hmin, absh * first)
                h = h_abs
                done = False
                failed = True
        if not accept:
            n_rej += 1
            new = False
            continue
        finite = True
        for j in range(n_state):
            if not math.isfinite(y_new[j]):
                finite = False
                break
        if not finite:
            status = _NON_FINITE
            fail_t = t
            break
        # -- record the accepted step
        if n_rec == cap:
            cap *= 2
            st2 = np.empty(cap)
            st2[:n_rec] = st[:n_rec]
            st = st2
            sy2 = np.empty((cap, n_state))
            sy2[:n_rec] = sy[:n_rec]
            sy = sy2
            if dense:
                sq2 = np.empty((cap, n_state, q))
                sq2[:n_rec - 1] = sq[:n_rec - 1]
                sq = sq2
        st[n_rec] = t_new
        sy[n_rec] = y_new
        if dense:
            for j in range(n_state):
                for c in range(q):
                    acc_q = 0.0
                    for r in range(s + 1):
                        acc_q += K[r, j] * P[r, c]
                    sq[n_rec - 1, j, c] = acc_q
        n_rec += 1
        n_acc += 1
        t = t_new
        y[:] = y_new
        K[0] = K[s]
        new = True
        if t_new >= t_end:
            break
    return (st[:n_rec].copy(), sy[:n_rec].copy(), sq[:max(n_rec - 1, 0)].copy(), status, fail_t,
            n_acc, n_rej, nfev)


@njit
def _dense_at(st, sy, Q, t_out, out):
    """:func:`trajlen.solve.batched._interpolate` compiled: ``out[i] = x(t_out[i])`` for sorted
    ``t_out`` in ``[0, st[-1]]``; a time equal to a step end takes the stored state exactly. One pass
    over the steps, no ``(T, N, q)`` gather — on a 2001-point grid this was as costly as the solve."""
    n_steps = st.shape[0]
    N = sy.shape[1]
    q = Q.shape[2]
    j = 0
    for i in range(t_out.shape[0]):
        t = t_out[i]
        while j < n_steps - 1 and st[j] < t:   # j: first step end with st[j] >= t
            j += 1
        if st[j] == t:
            out[i, :] = sy[j]
            continue
        k = j - 1
        h = st[k + 1] - st[k]
        x = (t - st[k]) / h
        for c in range(N):
            acc = 0.0
            pw = 1.0
            for m in range(q):
                pw = pw * x
                acc += Q[k, c, m] * pw
            out[i, c] = sy[k, c] + h * acc


def _interpolate_compiled(res: RowResult, t_out: np.ndarray) -> np.ndarray:
    out = np.empty((len(t_out), res.step_y.shape[1]))
    _dense_at(res.step_t, res.step_y, res.Q, np.ascontiguousarray(t_out, dtype=np.float64), out)
    return out


# ---------------------------------------------------------------------------------------------------
# Python side
# ---------------------------------------------------------------------------------------------------
def _pack(net: NetworkSpec, inp: InputSpec, params: Params):
    """Kernel arguments for one network, with the coefficients VectorField itself derives."""
    field = VectorField.from_params(net, inp, params)
    a = field.arrays
    n, k = net.depth, net.width
    coeffs = field.coeffs
    arrays = (np.ascontiguousarray(a["W"][0]), np.ascontiguousarray(a["b"][0]),
              np.ascontiguousarray(a["W_r"][0]), np.ascontiguousarray(a["b_r"][0]),
              np.ascontiguousarray(np.stack([c.inv_tau[0] for c in coeffs])),
              np.ascontiguousarray(np.stack([c.A[0] for c in coeffs])),
              np.ascontiguousarray(np.stack([c.A_r[0] for c in coeffs])))
    assert arrays[1].shape == (n, k)
    flags = (MODEL_CODES[net.model], ACTIVATION_CODES[net.phi], net.recurrence == "shared",
             net.model == "ltc" and net.recurrence == "ltc_only", net.ltc_decay == "abs")
    ci = field.input
    table = np.ascontiguousarray(ci.table, dtype=np.float64)
    inp_args = (inp.kind == "exact", table, float(ci.inv_h), float(ci.last))
    return arrays, flags, inp_args


def rhs_one(net: NetworkSpec, inp: InputSpec, params: Params, t: float, y: np.ndarray) -> np.ndarray:
    """``dx/dt`` of one network at time ``t`` and state ``y (N,)`` from the compiled kernel."""
    arrays, flags, inp_args = _pack(net, inp, params)
    out = np.empty(net.n_state)
    _rhs(float(t), np.ascontiguousarray(y, dtype=np.float64), out, arrays, flags, inp_args)
    return out


def integrate_one(net: NetworkSpec, inp: InputSpec, params: Params, solver: SolverSpec) -> RowResult:
    """Integrate one network from x(0) = 0 over ``[0, inp.t_end]`` with RK23/RK45 and
    ``solver.controller`` (scipy or matlab) in float64; the steps, states and dense-output
    coefficients, like one row of the torch backend."""
    tab = TABLEAUS[solver.method]
    ctrl = _CONTROLLER_CODES[solver.controller]
    P = tab.P if ctrl == 0 else tab.P_matlab
    dense = solver.output != "steps"
    arrays, flags, inp_args = _pack(net, inp, params)
    st, sy, sq, code, fail_t, n_acc, n_rej, nfev = _integrate(
        arrays, flags, inp_args, net.n_state, float(inp.t_end), tab.C, tab.A, tab.B, tab.E,
        np.ascontiguousarray(P), ctrl, tab.error_order, MATLAB_FIRST_SHRINK_FLOOR[tab.name],
        float(solver.rtol), float(solver.atol), int(solver.max_steps), dense)
    return RowResult.from_code(st, sy, sq if dense else None, code, fail_t, solver.max_steps, n_acc,
                               n_rej, nfev)


def solve_compiled(items: Sequence[tuple[NetworkSpec, Params]], inp: InputSpec, solver: SolverSpec,
                   progress: Callable[[int], None] | None = None) -> list[Trajectory]:
    """Integrate networks one after another with the compiled kernel (``backend="numba"``).

    Parameters and return value as :func:`trajlen.solve.batched.solve_batched` (float64, RK23/RK45,
    controller scipy or matlab, output steps/refine/grid).
    """
    if solver.method not in TABLEAUS:
        raise ValueError(f"method with the numba backend must be RK23 or RK45, got {solver.method!r}")
    out = []
    for net, params in items:
        r = integrate_one(net, inp, params, solver)
        t_out, x_out = output_points(r, solver, inp.t_end, _interpolate_compiled)
        out.append(Trajectory(t=t_out, x=x_out, step_t=r.step_t, status=r.status, message=r.message,
                              n_accepted=r.n_accepted, n_rejected=r.n_rejected, nfev=r.nfev, njev=0))
        if progress is not None:
            progress(1)
    return out
