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
(pre-activations ``u W + b [+ x W_r]``), the five activations and their derivatives, and the circle
input. Tests hold
each to :class:`~trajlen.models.VectorField` (RHS equal to ~1e-15 relative for every model,
activation and semantics) and the whole solve to the torch backend's steps.

Stiff networks. τ = |N(0, 1)| puts some units' time constants near zero; RK45 is then bound by
stability, not accuracy, to steps of a few τ_min, and the few such networks carry most of a sweep's
RHS evaluations (BENCHMARKS.md). ``ros23w`` is ode23s's Rosenbrock pair run as a W-method with the
*diagonal* of the analytic Jacobian — the stiffness sits there (the leak 1/τ), so W⁻¹ is a division
and no LU is needed; ``RK45+ros23w`` runs RK45 until Hairer's stiffness test fires, then ros23w, and
hands back to RK45 where ros23w's steps turn out shorter. It changes the steps, so it is for
measures where only the path matters (``output="grid"``), not Table 2's solver points.

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
from ..spec import NUMBA_METHODS, InputSpec, NetworkSpec, SolverSpec
from ..trajectory import Trajectory
from .batched import RowResult, grid_times, output_points
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

__all__ = ["solve_compiled", "integrate_one", "rhs_one", "jac_diag_one", "ACTIVATION_CODES", "MODEL_CODES",
           "STIFF_CODES"]

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
    """``numba.njit`` with an on-disk cache in :func:`_cache_dir` (compiling the kernel takes ~75 s;
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
def _dphi(act, p):
    """φ'(p) (almost everywhere) for one layer's pre-activations ``p (k,)``, a new array
    (see trajlen.activations: the same kinks — relu' = [p > 0], hardtanh' = [|p| < 1])."""
    k = p.shape[0]
    d = np.empty(k)
    if act == 0:
        for j in range(k):
            th = math.tanh(p[j])
            d[j] = 1.0 - th * th
    elif act == 1:
        for j in range(k):
            sg = 1.0 / (1.0 + math.exp(-p[j]))
            d[j] = sg * (1.0 - sg)
    elif act == 2:
        for j in range(k):
            d[j] = 1.0 if p[j] > 0.0 else 0.0
    elif act == 3:
        for j in range(k):
            d[j] = 1.0 if abs(p[j]) < 1.0 else 0.0
    else:  # MATLAB Htanh.m: a saturated layer is constant, otherwise the identity
        hi = True
        lo = True
        for j in range(k):
            hi = hi and p[j] >= 1.0
            lo = lo and p[j] <= -1.0
        d[:] = 0.0 if (hi or lo) else 1.0
    return d


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
def _rhs_layer(act, model, gate, xl, p, Wr, br, c, out):
    """One layer's ``dx/dt = drive − leak ⊙ x`` into ``out (k,)``, from its pre-activations ``p``."""
    k = xl.shape[0]
    _phi(act, p)
    if model == 0:
        leak, drive = _node.leak_drive(xl, p, None, c)
    elif model == 1:
        leak, drive = _ctrnn.leak_drive(xl, p, None, c)
    elif gate:
        g = _pre(xl, Wr, k, br)
        _phi(act, g)
        leak, drive = _ltc.leak_drive(xl, p, g, c)
    else:
        leak, drive = _ltc.leak_drive(xl, p, None, c)
    for j in range(k):
        out[j] = drive[j] - leak[j] * xl[j]


@njit
def _jac_layer(act, model, gate, shared, xl, p, Wr, br, c, out):
    """One layer's diagonal of ``∂(dx/dt)/∂x`` into ``out (k,)``:
    ``−leak + (∂rate/∂f·φ'(p_f) [shared] + ∂rate/∂g·φ'(p_g) [gate])·W_r[i, i]``, with
    ``∂rate/∂f, ∂rate/∂g`` from the models' own ``partials``."""
    k = xl.shape[0]
    dp = _dphi(act, p)
    f = p.copy()
    _phi(act, f)
    cg = np.zeros(k)
    if model == 0:
        leak, _ = _node.leak_drive(xl, f, None, c)
        df, _ = _node.partials(xl, f, None, c)
    elif model == 1:
        leak, _ = _ctrnn.leak_drive(xl, f, None, c)
        df, _ = _ctrnn.partials(xl, f, None, c)
    elif gate:
        pg = _pre(xl, Wr, k, br)
        dpg = _dphi(act, pg)
        _phi(act, pg)
        leak, _ = _ltc.leak_drive(xl, f, pg, c)
        df, dg = _ltc.partials(xl, f, pg, c)
        cg = dg * dpg
    else:
        leak, _ = _ltc.leak_drive(xl, f, None, c)
        df, _ = _ltc.partials(xl, f, None, c)
    for i in range(k):
        wi = (df[i] * dp[i] if shared else 0.0) + cg[i]
        out[i] = wi * Wr[i, i] - leak[i]


@njit
def _field(t, y, out, jac, net, flags, inp):
    """``dx/dt`` (``jac`` False) or the diagonal of the analytic ``∂(dx/dt)/∂x`` (``jac`` True, the
    diagonal of :meth:`trajlen.models.VectorField.jacobian`) of one network into ``out (N,)``;
    ``net`` = (W, b, W_r, b_r, inv_tau, A, A_r). The layer glue is written once for both."""
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
        c = LayerCoeffs(inv_tau[layer], A[layer], A_r[layer], abs_decay)
        o = out[layer * k:(layer + 1) * k]
        if jac:
            _jac_layer(act, model, gate, shared, xl, p, W_r[layer], b_r[layer], c, o)
        else:
            _rhs_layer(act, model, gate, xl, p, W_r[layer], b_r[layer], c, o)
        u = xl
        k_in = k


@njit
def _rhs(t, y, out, net, flags, inp):
    """``dx/dt`` of one network into ``out (N,)``."""
    _field(t, y, out, False, net, flags, inp)


@njit
def _jac_diag(t, y, out, net, flags, inp):
    """The diagonal of ``∂(dx/dt)/∂x`` of one network into ``out (N,)`` (what ros23w's W uses)."""
    _field(t, y, out, True, net, flags, inp)


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
def _err_rms(e, mult, y, y_new, rtol, atol):
    """scipy's error norm: RMS of ``mult·e / (atol + rtol·max(|y|, |y_new|))``."""
    acc = 0.0
    for j in range(e.shape[0]):
        sc = atol + max(abs(y[j]), abs(y_new[j])) * rtol
        v = e[j] * mult / sc
        acc += v * v
    return math.sqrt(acc) / math.sqrt(e.shape[0])


@njit
def _err_max(e, y, y_new, threshold):
    """MATLAB's: ``max |e| / max(|y|, |y_new|, AbsTol/RelTol)``; a NaN anywhere is the result."""
    m = 0.0
    for j in range(e.shape[0]):
        wt = max(abs(y[j]), abs(y_new[j]))
        if wt < threshold:
            wt = threshold
        v = abs(e[j] / wt)
        if v > m or v != v:
            m = v
    return m


@njit
def _next_step(h_abs, err, accept, failed, controller, rtol, pw, hmin, shrink_floor):
    """The next step size after an attempt, for RK45 and ros23w alike (``pw`` = 1/(error order+1)).

    ``controller`` 0, scipy's rules (``err`` already scaled to 1): ``h·SAFETY·err^−pw`` clipped to
    [MIN_FACTOR, MAX_FACTOR], no growth after a rejection within the step. 1, MATLAB's (``err``
    against ``rtol``): on acceptance without a failure ``h / (1.25 (err/rtol)^pw)``, at most 5×; on
    the first rejection ``h·max(shrink_floor, 0.8 (rtol/err)^pw)`` (ode45: 0.1, ode23s: 0.5), on
    later ones ``h/2``; never below ``hmin``."""
    if controller == 0:
        raw = SAFETY * err ** -pw
        if accept:
            if err == 0:
                grow = MAX_FACTOR
            else:
                grow = raw if raw < MAX_FACTOR else MAX_FACTOR
            if failed and grow > 1.0:
                grow = 1.0
            return h_abs * grow
        return h_abs * (raw if raw > MIN_FACTOR else MIN_FACTOR)
    if accept:
        if failed:
            return h_abs
        temp = 1.25 * (err / rtol) ** pw
        return h_abs / temp if temp > 0.2 else 5.0 * h_abs
    if failed:
        return max(hmin, 0.5 * h_abs)
    first = 0.8 * (rtol / err) ** pw
    if first < shrink_floor:
        first = shrink_floor
    return max(hmin, h_abs * first)


@njit
def _all_finite(v):
    for x in v:
        if not math.isfinite(x):
            return False
    return True


@njit
def _eps(t):
    a = abs(t)
    return np.nextafter(a, np.inf) - a


@njit
def _integrate(net, flags, inp, n_state, t_end, C, Amat, Bw, E, P, controller, error_order,
               first_floor, rtol, atol, max_steps, dense, stiff, grid):
    """One solve from x(0) = 0. ``stiff`` 0: the explicit pair throughout; 1: the explicit pair until
    Hairer's stiffness test fires, then ros23w (:func:`_ros`) — to the end, or until it hands back
    (no faster than RK45 there), then RK45 to the end; 2: ros23w throughout. Returns the step
    records, status, failure time, counters, Jacobian evaluations and the times of the switch to
    ros23w and of the hand-back (−1 if none).

    ``dense``: store each step's dense-output coefficients (for Refine points). ``grid = (times,
    out, [filled])``: with times, the dense output is written to ``out`` step by step
    (:func:`_stream`) and no per-step states or coefficients are kept; with no times, nothing is."""
    s = C.shape[0]
    q = P.shape[1]
    y = np.zeros(n_state)
    f = np.empty(n_state)
    _rhs(0.0, y, f, net, flags, inp)
    nfev = 1
    t = 0.0
    streaming = grid[0].shape[0] > 0
    keep_y = not streaming
    Qs = np.zeros((n_state, q))
    if streaming:
        _stream(grid, -1.0, y, 0.0, y, Qs)   # the grid's t = 0 point
    threshold = atol / rtol               # MATLAB: AbsTol/RelTol
    pw = 1.0 / (error_order + 1)          # both controllers' exponent (scipy's with a minus sign)
    # -- initial step ------------------------------------------------------------------------------
    hmax_user = math.inf
    h_abs = 0.0                           # ros23w alone: its own initial step
    if stiff == 2:
        pass
    elif controller == 0:   # scipy select_initial_step
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
    st, sy, sq = _new_records(n_state, q, dense, keep_y, y)
    n_rec = 1
    njev = 0
    t_switch = -1.0
    t_back = -1.0
    stiff_hits = 0       # Hairer's DOPRI5 stiffness test: h·ρ > 3.25 on 15 accepted steps, with
    nonstiff_hits = 0    # fewer than 6 non-stiff steps in between (ρ from the last two stages)
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
    h_ref = 0.0
    switch = stiff == 2
    while True:
        if switch:   # one call site: the kernel compiles ros23w into it once
            (st, sy, sq, n_rec, status, fail_t, n_acc, n_rej, nfev, njev, t_r, y_r, f_r, h_r,
             back) = _ros(net, flags, inp, n_state, t, y.copy(), K[0].copy(), t_end, controller,
                          rtol, atol, max_steps, h_abs, h_ref, st, sy, sq, n_rec, n_acc, n_rej,
                          nfev, dense, grid, Qs)
            if not back:
                break
            # ros23w was no faster here: RK45 again, to the end, from its step at the switch
            switch = False
            t_back = t_r
            stiff = 0
            t = t_r
            y[:] = y_r
            K[0] = f_r
            h_abs = h_ref
            h = h_ref
            new = True
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
            err = _err_rms(tmp, h_final, y, y_new, rtol, atol)
            accept = err < 1.0
        else:
            err = h_abs * _err_max(tmp, y, y_new, threshold)
            accept = not (err > rtol)
        hmin = MATLAB_HMIN_EPS * _eps(t)
        if controller == 1 and not accept and h_abs <= hmin:
            status = _UNDERFLOW
            fail_t = t
            n_rej += 1
            break
        h_abs = _next_step(h_abs, err, accept, failed, controller, rtol, pw, hmin, first_floor)
        if not accept:
            failed = True
            if controller == 1:
                h = h_abs
                done = False
        if not accept:
            n_rej += 1
            new = False
            continue
        if not _all_finite(y_new):
            status = _NON_FINITE
            fail_t = t
            break
        # -- record the accepted step
        if dense or streaming:
            for j in range(n_state):
                for c in range(q):
                    acc_q = 0.0
                    for r in range(s + 1):
                        acc_q += K[r, j] * P[r, c]
                    Qs[j, c] = acc_q
        st, sy, sq = _store(st, sy, sq, n_rec, t_new, y_new, Qs, dense)
        if streaming:
            _stream(grid, t, y, t_new, y_new, Qs)
        n_rec += 1
        n_acc += 1
        t = t_new
        y[:] = y_new
        K[0] = K[s]
        new = True
        if t_new >= t_end:
            break
        if stiff == 1:
            # h·ρ with ρ ≈ ‖f(t+h, y_new) − f(t+h, y_stage)‖ / ‖y_new − y_stage‖: the last stage and
            # the FSAL stage sit at the same time (c = 1), so their difference sees the stiff modes.
            num = 0.0
            den = 0.0
            for j in range(n_state):
                dk = K[s, j] - K[s - 1, j]
                dy = y_new[j] - y_stage[j]
                num += dk * dk
                den += dy * dy
            rho = math.sqrt(num / den) if den > 0.0 else 0.0
            if h_final * rho > 3.25:
                nonstiff_hits = 0
                stiff_hits += 1
                if stiff_hits == 15:
                    t_switch = t
                    h_ref = h_final
                    switch = True
            else:
                nonstiff_hits += 1
                if nonstiff_hits == 6:
                    stiff_hits = 0
    return (st[:n_rec].copy(), sy[:n_rec].copy(), sq[:max(n_rec - 1, 0)].copy(), status, fail_t,
            n_acc, n_rej, nfev, njev, t_switch, t_back)


@njit
def _new_records(n_state, q, dense, keep_y, y0):
    """Step records (times; states unless ``keep_y`` is False; dense-output coefficients if
    ``dense``) with room for ``_INITIAL_CAPACITY`` steps, holding the initial point."""
    cap = _INITIAL_CAPACITY
    st = np.empty(cap)
    sy = np.empty((cap, n_state if keep_y else 0))
    sq = np.zeros((cap if dense else 0, n_state, q))
    st[0] = 0.0
    if keep_y:
        sy[0] = y0
    return st, sy, sq


@njit
def _store(st, sy, sq, n_rec, t_new, y_new, Qs, dense):
    """Append an accepted step (its end time and state, its coefficients ``Qs (N, q)``) to the
    records; returns them, grown if they were full."""
    st, sy, sq = _grow(st, sy, sq, n_rec, dense)
    st[n_rec] = t_new
    if sy.shape[1] > 0:
        sy[n_rec] = y_new
    if dense:
        sq[n_rec - 1] = Qs
    return st, sy, sq


@njit
def _stream(grid, t, y, t_new, y_new, Qs):
    """Write the grid points of ``(t, t_new]`` from one step's dense output as it is accepted
    (``output="grid"``): the solve then keeps 8 bytes per step instead of (q + 1)·N·8. The same
    arithmetic as :func:`_dense_at` on stored records, so the points are bit-identical to it."""
    gt, gx, gi = grid
    i = gi[0]
    h = t_new - t
    q = Qs.shape[1]
    while i < gt.shape[0] and gt[i] <= t_new:
        if gt[i] == t_new:
            gx[i, :] = y_new
        else:
            x = (gt[i] - t) / h
            for c in range(y.shape[0]):
                acc = 0.0
                pw = 1.0
                for m in range(q):
                    pw = pw * x
                    acc += Qs[c, m] * pw
                gx[i, c] = y[c] + h * acc
        i += 1
    gi[0] = i


@njit
def _grow(st, sy, sq, n_rec, dense):
    """The records, doubled in capacity when ``n_rec`` fills them (amortised O(1) per step)."""
    if n_rec < st.shape[0]:
        return st, sy, sq
    cap = 2 * st.shape[0]
    st2 = np.empty(cap)
    st2[:n_rec] = st[:n_rec]
    sy2 = np.empty((cap, sy.shape[1]))
    sy2[:n_rec] = sy[:n_rec]
    if dense:
        sq2 = np.zeros((cap, sq.shape[1], sq.shape[2]))
        sq2[:n_rec - 1] = sq[:n_rec - 1]
        return st2, sy2, sq2
    return st2, sy2, sq


# -- ros23w: ode23s's Rosenbrock pair as a W-method with the diagonal Jacobian ----------------------
_ROS_D = 1.0 / (2.0 + math.sqrt(2.0))
_ROS_E32 = 6.0 + math.sqrt(2.0)
_SQRT_EPS = math.sqrt(np.finfo(np.float64).eps)
#: The Rosenbrock phase runs at this fraction of the user's rtol and atol. It propagates its
#: second-order solution, where RK45 propagates the fifth-order one of an error estimate for the
#: fourth: at equal tolerances its figure lengths were 1.3e-3 off (median, paper mix, vs 5e-7 for
#: RK45); at a tenth 3.3e-4 (BENCHMARKS.md, "Figure lengths").
ROS_TOL_FACTOR = 0.1
_ROS_SHRINK_FLOOR = 0.5   # ode23s's first shrink after a rejection is at most 2× (ode45's 10×)
_ROS_WINDOW = 30
_ROS_HANDBACK = 0.5


@njit
def _ros_step(net, flags, inp, t, h, t_new, y, F0, T, jd, y_new, F1, F2, k1, k2, k3):
    """One step of ode23s's modified Rosenbrock formula (Shampine & Reichelt 1997; Wolfbrandt's
    second-order W-formula, with its third-order error companion) from ``(t, y)``, ``F0 = f(t, y)``,
    ``T ≈ ∂f/∂t``, with the matrix ``W = I − h·d·diag(jd)``, d = 1/(2+√2):

    k1 = W⁻¹(F0 + h d T);  F1 = f(t + h/2, y + h/2·k1);  k2 = W⁻¹(F1 − k1) + k1;
    y_new = y + h·k2;  F2 = f(t + h, y_new);  k3 = W⁻¹(F2 − e32 (k2 − F1) − 2 (k1 − F0) + h d T),
    e32 = 6 + √2; the local error estimate is h/6·(k1 − 2 k2 + k3).

    A W-formula keeps its order with any matrix in place of the Jacobian J. The networks' stiffness
    sits on J's diagonal (the leak 1/τ [+ D(f)] of tiny-τ units; the coupling through W_r is of
    order σ_w), so the diagonal alone makes the step stable there and each W⁻¹ is a division — no
    k × k LU (≈ 140 µs at k = 100, ≈ 17 RHS evaluations). ``t_new`` is ``t + h`` or the stretched end.
    """
    hd = h * _ROS_D
    n_state = y.shape[0]
    for j in range(n_state):
        k1[j] = (F0[j] + hd * T[j]) / (1.0 - hd * jd[j])
        y_new[j] = y[j] + 0.5 * h * k1[j]
    _rhs(t + 0.5 * h, y_new, F1, net, flags, inp)
    for j in range(n_state):
        k2[j] = (F1[j] - k1[j]) / (1.0 - hd * jd[j]) + k1[j]
        y_new[j] = y[j] + (t_new - t) * k2[j]
    _rhs(t_new, y_new, F2, net, flags, inp)
    for j in range(n_state):
        k3[j] = (F2[j] - _ROS_E32 * (k2[j] - F1[j]) - 2.0 * (k1[j] - F0[j]) + hd * T[j]) / (
            1.0 - hd * jd[j])


@njit
def _ros(net, flags, inp, n_state, t, y, F0, t_end, controller, rtol, atol, max_steps, h_abs,
         h_ref, st, sy, sq, n_rec, n_acc, n_rej, nfev, dense, grid, Qs):
    """Continue one solve from ``(t, y)``, ``F0 = f(t, y)``, to ``t_end`` with :func:`_ros_step`,
    appending to the step records; the diagonal Jacobian and a finite-difference ∂f/∂t are
    evaluated once per step (as ``ode23s.m`` does its Jacobian).

    Tolerances are ``ROS_TOL_FACTOR`` × the given ones. Step rules: ``controller`` 1 — ode23s's
    (max norm against ``max(|y|, |y_new|, atol/rtol)``, growth ``1/(1.25 (err/rtol)^⅓)`` ≤ 5×,
    shrink ``max(0.5, 0.8 (rtol/err)^⅓)`` then halving, MaxStep = 0.1·span); 0 — scipy's (RMS norm
    of ``err / (atol + rtol·max(|y|, |y_new|))``, factors 0.2–10, safety 0.9). ``h_abs ≤ 0`` asks
    for ode23s's initial step. Dense output: the cubic Hermite polynomial through both step ends
    and their derivatives ``F0, F2`` (third order; ode23s's own interpolant is quadratic), stored
    in the records' first three coefficient columns.

    ``h_ref > 0`` (the explicit method's step when it was found stiff): hand the solve back as soon
    as ``_ROS_WINDOW`` accepted steps (after a first such window, in which the step grows from
    ``h_ref``) advance less than ``_ROS_HANDBACK`` × as many steps of ``h_ref`` would — the
    explicit pair is then cheaper (a ros23w step costs ≈ 4 RHS evaluations, an RK45 step 6; the
    margin keeps a window of locally short steps from undoing a switch that pays overall). This
    happens where the step is bounded by accuracy, not stability: the reference LTCs with MATLAB's
    layer-wise hard-tanh, whose right-hand side jumps when a layer saturates.

    Returns the records, status, failure time, counters, Jacobian evaluations, and ``(t, y, f(t, y),
    h, handed_back)`` to resume from.
    """
    rtol = rtol * ROS_TOL_FACTOR
    atol = atol * ROS_TOL_FACTOR
    pw = 1.0 / 3.0
    threshold = atol / rtol
    hmax_user = MATLAB_MAX_STEP_FRACTION * t_end if controller == 1 else math.inf
    jd = np.empty(n_state)
    T = np.empty(n_state)
    k1 = np.empty(n_state)
    k2 = np.empty(n_state)
    k3 = np.empty(n_state)
    F1 = np.empty(n_state)
    F2 = np.empty(n_state)
    y_new = np.empty(n_state)
    est = np.empty(n_state)
    if h_abs <= 0.0:
        rh = 0.0
        for i in range(n_state):
            v = abs(F0[i]) / max(abs(y[i]), threshold)
            if v > rh:
                rh = v
        rh = 1.25 * rh / rtol ** pw
        h_abs = min(hmax_user, t_end - t)
        if h_abs * rh > 1.0:
            h_abs = 1.0 / rh
    njev = 0
    status = _OK
    fail_t = t
    err = 0.0
    handed_back = False
    t_window = t
    in_window = 0
    warmed = False
    while True:
        if n_acc + n_rej >= max_steps:
            status = _BUDGET
            break
        if h_ref > 0.0 and in_window == _ROS_WINDOW:
            if warmed and t - t_window < _ROS_HANDBACK * _ROS_WINDOW * h_ref:
                handed_back = True
                break
            warmed = True   # the first window only grows the step from the explicit method's
            t_window = t
            in_window = 0
        hmin = MATLAB_HMIN_EPS * _eps(t)
        h_abs = min(hmax_user, max(hmin, h_abs))
        done = MATLAB_STRETCH * h_abs >= t_end - t
        if done:
            h_abs = t_end - t
        _jac_diag(t, y, jd, net, flags, inp)
        njev += 1
        tdel = (t + min(_SQRT_EPS * max(abs(t), abs(t + h_abs)), h_abs)) - t
        _rhs(t + tdel, y, T, net, flags, inp)
        nfev += 1
        for j in range(n_state):
            T[j] = (T[j] - F0[j]) / tdel
        failed = False
        while True:
            t_new = t_end if done else t + h_abs
            _ros_step(net, flags, inp, t, h_abs, t_new, y, F0, T, jd, y_new, F1, F2, k1, k2, k3)
            nfev += 2
            h = t_new - t
            for j in range(n_state):
                est[j] = k1[j] - 2.0 * k2[j] + k3[j]   # the local error is h/6 of this
            if controller == 0:
                err = _err_rms(est, h / 6.0, y, y_new, rtol, atol)
                accept = err < 1.0
            else:
                err = (h_abs / 6.0) * _err_max(est, y, y_new, threshold)
                accept = not (err > rtol)
            if accept:
                break
            n_rej += 1
            if h_abs <= hmin:
                status = _UNDERFLOW
                break
            if n_acc + n_rej >= max_steps:
                status = _BUDGET
                break
            h_abs = _next_step(h_abs, err, False, failed, controller, rtol, pw, hmin, _ROS_SHRINK_FLOOR)
            failed = True
            done = False
        if status != _OK:
            fail_t = t
            break
        if not _all_finite(y_new):
            status = _NON_FINITE
            fail_t = t
            break
        h_abs = _next_step(h_abs, err, True, failed, controller, rtol, pw, hmin, _ROS_SHRINK_FLOOR)
        h = t_new - t
        for j in range(n_state):
            slope = (y_new[j] - y[j]) / h
            Qs[j, 0] = F0[j]
            Qs[j, 1] = 3.0 * slope - 2.0 * F0[j] - F2[j]
            Qs[j, 2] = F0[j] + F2[j] - 2.0 * slope
            for c in range(3, Qs.shape[1]):
                Qs[j, c] = 0.0
        st, sy, sq = _store(st, sy, sq, n_rec, t_new, y_new, Qs, dense)
        if grid[0].shape[0] > 0:
            _stream(grid, t, y, t_new, y_new, Qs)
        n_rec += 1
        n_acc += 1
        in_window += 1
        t = t_new
        y = y_new.copy()
        F0 = F2.copy()
        if done:
            break
    return st, sy, sq, n_rec, status, fail_t, n_acc, n_rej, nfev, njev, t, y, F0, h_abs, handed_back


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


#: Methods of this backend and how :func:`_integrate` runs them (its ``stiff`` code).
STIFF_CODES = {"RK23": 0, "RK45": 0, "RK45+ros23w": 1, "ros23w": 2}
assert set(STIFF_CODES) == set(NUMBA_METHODS)


def jac_diag_one(net: NetworkSpec, inp: InputSpec, params: Params, t: float,
                 y: np.ndarray) -> np.ndarray:
    """Diagonal of ``∂(dx/dt)/∂x`` of one network at ``(t, y (N,))``, shape ``(N,)``, from the
    compiled kernel (what ros23w's W-matrix uses)."""
    arrays, flags, inp_args = _pack(net, inp, params)
    out = np.empty(net.n_state)
    _jac_diag(float(t), np.ascontiguousarray(y, dtype=np.float64), out, arrays, flags, inp_args)
    return out


def integrate_one(net: NetworkSpec, inp: InputSpec, params: Params, solver: SolverSpec,
                  keep_records: bool = False) -> RowResult:
    """Integrate one network from x(0) = 0 over ``[0, inp.t_end]`` in float64 with
    ``solver.method`` and ``solver.controller`` (scipy or matlab): the steps, states and
    dense-output coefficients, like one row of the torch backend.

    Methods: ``RK23``, ``RK45`` (explicit pairs, the scipy or ode45 step rules); ``ros23w``
    (ode23s's Rosenbrock pair as a W-method with the diagonal of the analytic Jacobian, see
    :func:`_ros_step`); ``RK45+ros23w`` (RK45 until Hairer's stiffness test fires, then ros23w to
    the end; the message says when). With MATLAB's layer-wise hard-tanh, RK45+ros23w is RK45.

    With ``output="grid"`` the grid is filled as the steps are accepted (``grid_x``), and only the
    step times are kept: memory is the grid plus 8 bytes per step, not (q + 1)·N·8 bytes per step
    (a 600-state network at the 200 000-step budget: 11 MB instead of 4.8 GB).
    ``keep_records=True`` keeps every step's state and coefficients instead (tests compare both).
    """
    stiff = STIFF_CODES[solver.method]
    if stiff == 1 and net.phi == "hardtanh_matlab":
        # MATLAB's layer-wise Htanh makes the RHS jump when a whole layer saturates; a Rosenbrock
        # step assumes a smooth f, and on the reference LTCs the switch moved lengths that RK45 gets
        # within 3–26 % by up to 83 % (8 networks per group, BENCHMARKS.md). Stay with RK45 there.
        stiff = 0
    ctrl = _CONTROLLER_CODES[solver.controller]
    stream = solver.output == "grid" and not keep_records
    dense = solver.output != "steps" and not stream
    if stream:
        t_grid = grid_times(solver, inp.t_end)
        grid = (t_grid, np.empty((len(t_grid), net.n_state)), np.zeros(1, dtype=np.int64))
    else:
        grid = (np.empty(0), np.empty((0, net.n_state)), np.zeros(1, dtype=np.int64))
    if stiff == 2:
        tab = TABLEAUS["RK23"]
        P = np.zeros((tab.n_stages + 1, 3))   # the records' width: ros23w's interpolant is cubic
    else:
        tab = TABLEAUS["RK45" if solver.method == "RK45+ros23w" else solver.method]
        P = tab.P if ctrl == 0 else tab.P_matlab
    arrays, flags, inp_args = _pack(net, inp, params)
    st, sy, sq, code, fail_t, n_acc, n_rej, nfev, njev, t_switch, t_back = _integrate(
        arrays, flags, inp_args, net.n_state, float(inp.t_end), tab.C, tab.A, tab.B, tab.E,
        np.ascontiguousarray(P), ctrl, tab.error_order, MATLAB_FIRST_SHRINK_FLOOR[tab.name],
        float(solver.rtol), float(solver.atol), int(solver.max_steps), dense, stiff, grid)
    note = ""
    if t_switch >= 0:
        note = f"; stiff from t={t_switch:.6g}: ros23w from there"
        if t_back >= 0:
            note += f" to t={t_back:.6g}, then RK45 again (ros23w's steps had fallen below half of RK45's)"
    r = RowResult.from_code(st, sy, sq if dense else None, code, fail_t, solver.max_steps, n_acc,
                            n_rej, nfev, njev, note)
    if stream:
        r.grid_x = grid[1][:int(grid[2][0])]
    return r


def solve_compiled(items: Sequence[tuple[NetworkSpec, Params]], inp: InputSpec, solver: SolverSpec,
                   progress: Callable[[int], None] | None = None) -> list[Trajectory]:
    """Integrate networks one after another with the compiled kernel (``backend="numba"``).

    Parameters and return value as :func:`trajlen.solve.batched.solve_batched` (float64, RK23/RK45,
    controller scipy or matlab, output steps/refine/grid).
    """
    if solver.method not in STIFF_CODES:
        raise ValueError(f"method with the numba backend must be one of {', '.join(STIFF_CODES)}, "
                         f"got {solver.method!r}")
    out = []
    for net, params in items:
        r = integrate_one(net, inp, params, solver)
        t_out, x_out = output_points(r, solver, inp.t_end, _interpolate_compiled)
        out.append(Trajectory(t=t_out, x=x_out, step_t=r.step_t, status=r.status, message=r.message,
                              n_accepted=r.n_accepted, n_rejected=r.n_rejected, nfev=r.nfev, njev=r.njev))
        if progress is not None:
            progress(1)
    return out
