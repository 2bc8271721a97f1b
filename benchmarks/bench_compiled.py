"""Benchmark: the compiled per-network kernel (``backend="numba"``) vs the plain ``solve_ivp`` loop and the
torch batch, side by side in one run, on bench_solvers.py's workloads (k = 100, 1 layer, RK45, rtol 1e-2,
atol 1e-4, scipy controller, solver points). Run by hand:

    python benchmarks/bench_compiled.py --samples 8

Each (model, activation) group runs all three solvers before the next group, so load changes on a
shared machine hit them alike; CPU time is the headline. The kernel is compiled (or loaded from its
cache) before timing. Also reported: on how many networks the kernel takes exactly solve_ivp's
accepted steps and RHS evaluations.
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_solvers import ATOL, RTOL, _scipy_loop, _timed, _trajlen, groups, machine, workload

from trajlen.solve.compiled import solve_compiled
from trajlen.spec import SolverSpec


def _numba(items, inp):
    return solve_compiled(items, inp, SolverSpec(backend="numba", method="RK45", controller="scipy",
                                                 rtol=RTOL, atol=ATOL, output="steps"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--width", type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"# {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    for sem in ("table2", "paper"):
        items, inp = workload("reference" if sem == "table2" else "paper", args.width, args.samples)
        _numba(items[:1], inp)   # compile / load the cached kernel outside the timing
        cpu = {"scipy": 0.0, "torch": 0.0, "numba": 0.0}
        exact = 0
        for idx in groups(items):
            g = [items[i] for i in idx]
            _, c, ref = _timed(_scipy_loop, g, inp)
            cpu["scipy"] += c
            _, c, _ = _timed(_trajlen, g, inp)
            cpu["torch"] += c
            _, c, res = _timed(_numba, g, inp)
            cpu["numba"] += c
            exact += sum(r.nfev == n for r, n in zip(res, ref))
        n = len(items)
        print(f"\n## {sem}: {n} networks")
        print("| solver | CPU s | networks / CPU-s | vs scipy loop |")
        print("|---|---|---|---|")
        for k, label in (("scipy", "scipy solve_ivp loop"), ("torch", "trajlen torch batch"),
                         ("numba", "trajlen numba kernel")):
            print(f"| {label} | {cpu[k]:.2f} | {n / cpu[k]:.1f} | {cpu['scipy'] / cpu[k]:.1f}x |")
        print(f"\nnumba nfev = solve_ivp's on {exact}/{n}")


if __name__ == "__main__":
    main()
