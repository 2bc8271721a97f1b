"""Per-evaluation cost of the compiled kernel's right-hand side against a roofline. Run by hand::

    python benchmarks/bench_rhs.py --repeats 3

The roofline is the same arithmetic written by hand for one fixed model and activation: one numba
function with the matrix–vector product(s), the transcendental calls and nothing else (no registry
dispatch, no layer loop, no input table) — the fastest a general kernel could hope to be. Both are
called from a compiled loop (no Python call in the timing) at a varying t, single-threaded; the
figure is hand-written time / kernel time (1.0: at the roofline), median [min, max] over the
repeats, the two interleaved within each repeat. Also printed: the bare k × k product's share of the
hand-written RHS, to show where the time goes.

The kernel's ``rhs`` called in a loop pays for its call boundary (numba increfs and decrefs every
array of the field tuple at each level: ~250–300 ns a call on an AVX-512 Xeon), which the solver's
own path does not. So the last columns time the RHS as the solver pays for it: 8 networks solved by
the kernel (RK45, scipy's rules, rtol 1e-2, atol 1e-4, steps output), CPU seconds / RHS evaluations.
That per-evaluation time also holds the stage sums, the error norm and the step control, so
hand-written / in-solver is a *lower bound* of the in-solver RHS's roofline fraction.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trajlen.params import sample_params  # noqa: E402
from trajlen.solve.compiled.field import rhs  # noqa: E402
from trajlen.solve.compiled import solve_compiled  # noqa: E402
from trajlen.solve.compiled.pack import pack_field  # noqa: E402
from trajlen.spec import InputSpec, NetworkSpec, SolverSpec  # noqa: E402


@numba.njit(error_model="numpy")
def _kernel_loop(n, y, out, fld):
    s = 0.0
    for i in range(n):
        rhs(1e-3 * i, y, out, fld)
        s += out[0]
    return s


@numba.njit(error_model="numpy")
def _matvec(x, W, p):
    k = W.shape[1]
    for j in range(k):
        p[j] = 0.0
    for i in range(x.shape[0]):
        xi = x[i]
        for j in range(k):
            p[j] += xi * W[i, j]


@numba.njit(error_model="numpy")
def _hand(t, x, out, W_in, b, W_r, b_r, inv_tau, A, A_r, p, pg, which):
    """which 0: paper CT-RNN, 1: paper LTC, 2: reference LTC (tanh, one layer, exact circle input)."""
    u0, u1 = math.sin(t), math.cos(t)
    k = x.shape[0]
    if which == 2:
        _matvec(x, W_r, pg)
        for j in range(k):
            f = math.tanh(u0 * W_in[0, j] + u1 * W_in[1, j] + b[j])
            g = math.tanh(pg[j] + b_r[j])
            out[j] = A[j] * f + A_r[j] * g - x[j] * (inv_tau[j] + abs(f) + abs(g))
        return
    _matvec(x, W_r, p)
    for j in range(k):
        f = math.tanh(u0 * W_in[0, j] + u1 * W_in[1, j] + b[j] + p[j])
        if which == 0:
            out[j] = f - inv_tau[j] * x[j]
        else:
            out[j] = A[j] * f - (inv_tau[j] + f) * x[j]


@numba.njit(error_model="numpy")
def _hand_loop(n, y, out, W_in, b, W_r, b_r, inv_tau, A, A_r, p, pg, which):
    s = 0.0
    for i in range(n):
        _hand(1e-3 * i, y, out, W_in, b, W_r, b_r, inv_tau, A, A_r, p, pg, which)
        s += out[0]
    return s


@numba.njit(error_model="numpy")
def _matvec_loop(n, y, W, p):
    s = 0.0
    for _i in range(n):
        _matvec(y, W, p)
        s += p[0]
    return s


CASES = {"paper CT-RNN": ("ctrnn", "paper", 0), "paper LTC": ("ltc", "paper", 1),
         "reference LTC": ("ltc", "reference", 2)}


def _case(name: str, k: int):
    model, sem, which = CASES[name]
    net = NetworkSpec(model=model, activation="tanh", width=k, semantics=sem)
    inp = InputSpec(semantics=sem, kind="exact") if sem == "reference" else InputSpec(semantics=sem)
    p = sample_params(net, 0, 0)
    fld = pack_field(net, inp, p)
    arrays = fld[0]
    W, b, W_r, b_r, inv_tau, A, A_r = (np.ascontiguousarray(a[0]) for a in arrays[:7])
    y = np.random.default_rng(0).standard_normal(k) * 0.1
    hand = (W[:2], b, W_r, b_r, inv_tau, A, A_r, np.empty(k), np.empty(k), which)
    sol = SolverSpec(backend="numba", method="RK45", controller="scipy", rtol=1e-2, atol=1e-4,
                     output="steps", semantics=sem)
    items = [(net, sample_params(net, 0, s)) for s in range(8)]
    solve = (lambda: solve_compiled(items, inp, sol))
    return fld, y, hand, W_r, solve


def _in_solver(solve) -> float:
    """CPU seconds per RHS evaluation of one kernel solve of the 8 networks."""
    t0 = time.process_time()
    res = solve()
    return (time.process_time() - t0) / sum(r.nfev for r in res)


def _timed(fn, *args) -> float:
    t0 = time.process_time()
    fn(*args)
    return time.process_time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", default="25,50,100,200")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--evals", type=float, default=2e7, help="k² × evaluations per timing")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {load[0]:.2f}; numba "
          f"{numba.__version__}, numpy {np.__version__}")
    print("| case | k | kernel `rhs` ns / call | hand-written ns / RHS | roofline fraction of `rhs`: median "
          "[min, max] | k × k product's share of hand-written | in-solver ns / RHS | hand-written / "
          "in-solver: median [min, max] |")
    print("|---|---|---|---|---|---|---|---|")
    for name in CASES:
        for k in (int(w) for w in args.widths.split(",")):
            fld, y, hand, W_r, solve = _case(name, k)
            out = np.empty(k)
            n = max(1000, int(args.evals / k ** 2))
            _kernel_loop(10, y, out, fld)
            _hand_loop(10, y, out, *hand)
            _matvec_loop(10, y, W_r, np.empty(k))
            solve()
            tk, th, tm, ts = [], [], [], []
            for _ in range(args.repeats):
                tk.append(_timed(_kernel_loop, n, y, out, fld) / n)
                th.append(_timed(_hand_loop, n, y, out, *hand) / n)
                tm.append(_timed(_matvec_loop, n, y, W_r, np.empty(k)) / n)
                ts.append(_in_solver(solve))
            frac = sorted(h / c for h, c in zip(th, tk))
            fs = sorted(h / c for h, c in zip(th, ts))
            print(f"| {name} | {k} | {statistics.median(tk) * 1e9:.0f} | {statistics.median(th) * 1e9:.0f} "
                  f"| {statistics.median(frac):.2f} [{frac[0]:.2f}, {frac[-1]:.2f}] "
                  f"| {statistics.median(tm) / statistics.median(th):.2f} "
                  f"| {statistics.median(ts) * 1e9:.0f} | {statistics.median(fs):.2f} [{fs[0]:.2f}, {fs[-1]:.2f}] |")


if __name__ == "__main__":
    main()
