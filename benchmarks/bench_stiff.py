"""Benchmark: figure lengths where only the path matters — stiff-aware scipy solvers (LSODA, BDF with
trajlen's analytic Jacobian), the compiled explicit kernel and the compiled stiff-aware RK45+ros23w
vs the plain ``solve_ivp`` RK45 loop, side by side in one run. Run by hand:

    PYTHONPATH=benchmarks python benchmarks/bench_stiff.py --samples 4

Workload: Figs 2–3's setting, k = 100, 1 layer, node/ctrnn/ltc × tanh, sigmoid, relu, hardtanh, under
both semantics, rtol 1e-2, atol 1e-4; every length is the PC1–PC2 chord length on a uniform grid of
2001 points of the solver's dense output (``output="grid"``), so it is a property of the trajectory,
not of the solver's step sequence. Truth: the same network solved by the numba kernel at rtol 1e-10,
atol 1e-12 on the same grid. Reported per solver: CPU seconds of the solve and the grid interpolation
(the PCA, the same for every solver, is left out; the machine is shared, so all solvers run one group
after another, interleaved, single-threaded: OMP_NUM_THREADS=1 as a sweep worker has it),
networks per CPU-second, the ratio to the RK45 loop, and
the median / max relative length error against the truth — the RK45 loop's own error is the
"tolerance-implied" error the others should stay within.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.integrate as si
from bench_solvers import ATOL, RTOL, _timed, groups, machine, workload

from trajlen.measures import layer_measures
from trajlen.models import VectorField
from trajlen.solve.compiled import solve_compiled
from trajlen.solve.scipy_ivp import solve_scipy
from trajlen.spec import SolverSpec

GRID = 2001


def _length(x) -> float:
    x = np.asarray(x)
    if not np.all(np.isfinite(x)):
        return float("nan")
    return layer_measures(x)["length"]


def _rk45_loop(items, inp):
    """The plain loop: ``solve_ivp(RK45, dense_output=True)`` with a numpy RHS, evaluated on the grid."""
    t = np.linspace(0.0, inp.t_end, GRID)
    out = []
    for net, p in items:
        field = VectorField.from_params(net, inp, p)
        sol = si.solve_ivp(lambda s, y, field=field: field(np.array([s]), y[None])[0], (0.0, inp.t_end),
                           np.zeros(net.n_state), method="RK45", rtol=RTOL, atol=ATOL, dense_output=True)
        out.append(sol.sol(t).T)
    return out


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


SOLVERS = {"solve_ivp RK45 loop": _rk45_loop, "scipy LSODA + analytic Jacobian": _scipy("LSODA"),
           "scipy BDF + analytic Jacobian": _scipy("BDF"), "trajlen numba RK45": _numba(),
           "trajlen numba RK45+ros23w": _numba(method="RK45+ros23w")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--width", type=int, default=100)
    args = ap.parse_args()
    print(f"# {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    truth_fn = _numba(1e-10, 1e-12)
    for sem in ("reference", "paper"):
        items, inp = workload(sem, args.width, args.samples)
        truth_fn(items[:1], inp)  # compile / load the kernel outside the timing
        cpu = dict.fromkeys(SOLVERS, 0.0)
        lengths = {k: [] for k in SOLVERS}
        truth = []
        for idx in groups(items):
            g = [items[i] for i in idx]
            for name, fn in SOLVERS.items():
                _, c, out = _timed(fn, g, inp)
                cpu[name] += c
                lengths[name] += [_length(x) for x in out]  # PCA outside the timing: same for all
            truth += [_length(x) for x in truth_fn(g, inp)]
        truth = np.asarray(truth)
        n = len(items)
        base = cpu["solve_ivp RK45 loop"]
        print(f"\n## {sem} semantics: {n} networks, grid {GRID}, rtol {RTOL:g}, atol {ATOL:g}")
        print("| solver | CPU s | networks / CPU-s | vs RK45 loop | length error vs truth: median | max |")
        print("|---|---|---|---|---|---|")
        for name in SOLVERS:
            err = np.abs(np.asarray(lengths[name]) / truth - 1)
            print(f"| {name} | {cpu[name]:.2f} | {n / cpu[name]:.1f} | {base / cpu[name]:.1f}x | "
                  f"{np.nanmedian(err):.2e} | {np.nanmax(err):.2e} |")


if __name__ == "__main__":
    main()
