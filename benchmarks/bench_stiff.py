"""Benchmark: figure lengths where only the path matters — the compiled stiff-aware RK45+ros23w and
the compiled RK45 against the ``solve_ivp`` loops a user would write (a hand-written numpy RHS, and
trajlen's generic ``VectorField``) and scipy's stiff solvers with trajlen's analytic Jacobian. Run by
hand::

    PYTHONPATH=benchmarks python benchmarks/bench_stiff.py --samples 4 --repeats 3
    PYTHONPATH=benchmarks python benchmarks/bench_stiff.py --solvers lean,rk45,switch   # skip the slow ones

Workload: Figs 2–3's setting, k = 100, 1 layer, node/ctrnn/ltc × tanh, sigmoid, relu, hardtanh
(the paper's hard-tanh under the paper semantics, MATLAB's under the reference semantics), rtol 1e-2,
atol 1e-4, scipy's step rules for every solver; every length is the PC1–PC2 chord length on a uniform
grid of 2001 points of the solver's dense output (``output="grid"``), so it is a property of the
trajectory, not of the solver's step sequence. Truth: the same network solved by the numba kernel at
rtol 1e-10, atol 1e-12 on the same grid.

Timing: CPU seconds of the solve and the grid interpolation (the PCA, the same for every solver, is
left out), single-threaded (OMP_NUM_THREADS=1, as a sweep worker runs). The solvers run one
(model, activation) group after another, their order rotated from group to group and repeat to
repeat, so a change of load hits them alike; the ratio is the peer's CPU over the compiled
RK45+ros23w's on the whole workload, per repeat, quoted as median [min, max].
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict

import numpy as np
import scipy.integrate as si
from bench_peers import header, lean_rhs
from bench_solvers import ATOL, RTOL, groups, workload

from trajlen.measures import layer_measures
from trajlen.models import VectorField
from trajlen.solve.compiled import solve_compiled, warm_up
from trajlen.solve.scipy_ivp import solve_scipy
from trajlen.spec import SolverSpec

GRID = 2001


def _length(x) -> float:
    x = np.asarray(x)
    if not np.all(np.isfinite(x)):
        return float("nan")
    return layer_measures(x)["length"]


def _loop(rhs_of):
    """``solve_ivp(RK45, dense_output=True)`` on each network's RHS, evaluated on the grid."""
    def run(items, inp):
        t = np.linspace(0.0, inp.t_end, GRID)
        out = []
        for net, p in items:
            sol = si.solve_ivp(rhs_of(net, p, inp), (0.0, inp.t_end), np.zeros(net.n_state),
                               method="RK45", rtol=RTOL, atol=ATOL, dense_output=True)
            out.append(sol.sol(t).T)
        return out
    return run


def _field_rhs(net, p, inp):
    field = VectorField.from_params(net, inp, p)
    return lambda s, y: field(np.array([s]), y[None])[0]


def _scipy(method):
    def run(items, inp):
        sol = SolverSpec(backend="scipy", method=method, rtol=RTOL, atol=ATOL, output="grid",
                         grid_points=GRID, semantics=inp.semantics)
        return [solve_scipy(net, p, inp, sol).x for net, p in items]
    return run


def _numba(rtol=RTOL, atol=ATOL, method="RK45"):
    def run(items, inp):
        sol = SolverSpec(backend="numba", method=method, controller="scipy", rtol=rtol, atol=atol,
                         output="grid", grid_points=GRID, max_steps=5_000_000, semantics=inp.semantics)
        return [tr.x for tr in solve_compiled(items, inp, sol)]
    return run


SOLVERS = {"switch": ("trajlen numba RK45+ros23w", _numba(method="RK45+ros23w")),
           "rk45": ("trajlen numba RK45", _numba()),
           "lean": ("`solve_ivp` RK45 loop, hand-written numpy RHS", _loop(lean_rhs)),
           "field": ("`solve_ivp` RK45 loop on trajlen's `VectorField`", _loop(_field_rhs)),
           "lsoda": ("scipy LSODA + analytic Jacobian", _scipy("LSODA")),
           "bdf": ("scipy BDF + analytic Jacobian", _scipy("BDF"))}


def measure(names, items, inp, repeats):
    """``cpu[repeat][name]`` over the workload and each solver's lengths (from the first repeat)."""
    cpu = [defaultdict(float) for _ in range(repeats)]
    lengths = defaultdict(list)
    for r in range(repeats):
        for gi, idx in enumerate(groups(items)):
            g = [items[i] for i in idx]
            shift = (gi + r) % len(names)
            for name in names[shift:] + names[:shift]:
                c0 = time.process_time()
                out = SOLVERS[name][1](g, inp)
                cpu[r][name] += time.process_time() - c0
                if r == 0:
                    lengths[name] += [_length(x) for x in out]   # PCA outside the timing
    return cpu, lengths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=4, help="networks per (model, activation)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--semantics", default="reference,paper")
    ap.add_argument("--solvers", default=",".join(SOLVERS), help="any of " + ", ".join(SOLVERS))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    names = [s for s in args.solvers.split(",") if s]
    if "switch" not in names:
        names.insert(0, "switch")
    print(header())
    truth_fn = _numba(1e-10, 1e-12)
    for sem in args.semantics.split(","):
        items, inp = workload(sem, args.width, args.samples)
        warm_up(["RK45+ros23w"])                              # compile / load the kernels first
        cpu, lengths = measure(names, items, inp, args.repeats)
        truth = np.asarray([_length(x) for x in truth_fn(items_in_group_order(items), inp)])
        print(f"\n## {sem} semantics: {len(items)} networks, grid {GRID}, rtol {RTOL:g}, "
              f"atol {ATOL:g}, {args.repeats} repeats (load after: {os.getloadavg()[0]:.2f})")
        print("| solver | CPU s (median) | × RK45+ros23w's CPU: median [min, max] "
              "| length error vs truth: median | max |")
        print("|---|---|---|---|---|")
        for name in names:
            per = [c[name] for c in cpu]
            ratio = sorted(c[name] / c["switch"] for c in cpu)
            err = np.abs(np.asarray(lengths[name]) / truth - 1)
            print(f"| {SOLVERS[name][0]} | {np.median(per):.2f} | {np.median(ratio):.1f}× "
                  f"[{ratio[0]:.1f}, {ratio[-1]:.1f}] | {np.nanmedian(err):.2e} | {np.nanmax(err):.2e} |")


def items_in_group_order(items):
    """The networks in the order :func:`measure` records their lengths."""
    return [items[i] for idx in groups(items) for i in idx]


if __name__ == "__main__":
    main()
