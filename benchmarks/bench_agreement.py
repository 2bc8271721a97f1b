"""Backend agreement, measured: do numba, torch and scipy take the same steps on the same network, and
how far apart are their lengths where they do not? With the round-off spread of each network
(``--perturb``) beside it, which says whether a difference is a backend's or the network's.

Run by hand (one core; torch with one thread)::

    PYTHONPATH=benchmarks python benchmarks/bench_agreement.py --config main --samples 10
    PYTHONPATH=benchmarks python benchmarks/bench_agreement.py --config table2 --samples 10

``main`` is the README main job (reference semantics, hard-tanh, k = 100), ``table2`` Table 2's grid
(reference semantics, four activations, k = 100). Under MATLAB's rules (what the reference semantics
run) numba and torch are compared; under scipy's rules numba, torch and scipy's own ``OdeSolver``
loop. "Identical steps": the same numbers of accepted and rejected steps and step times within 1e-9.
Lengths are the pipeline's (PCA length on the Refine-4 output points); the relative difference is
``|a − b| / b`` against numba. Spreads: ``(max − min)/median`` of length and L over 1 + P solves with
every parameter × (1 + 1e-15·ε) (trajlen.perturb), on numba (and scipy for scipy's rules).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from bench_solvers import machine

from trajlen.pipeline import Task, measure, run_tasks, trajectory_for
from trajlen.solve.batch import solve_batched
from trajlen.spec import make_specs

CONFIGS = {"main": ["hardtanh"], "table2": ["tanh", "sigmoid", "relu", "hardtanh"]}
MODELS = ["node", "ctrnn", "ltc"]
#: rules -> the backends that run them (the first is the reference of the comparisons)
RULES = {"matlab": ["numba", "torch"], "scipy": ["numba", "torch", "scipy"]}


def _tasks(model, act, backend, controller, samples, perturb=0):
    net, inp, sol = make_specs("reference", model=model, activation=act, width=100, backend=backend,
                               controller=None if backend == "scipy" else controller, perturb=perturb)
    return [Task(net, inp, sol, 0, s) for s in range(samples)]


def _solve(tasks):
    """Trajectories and rows of tasks on their backend (torch: one batch)."""
    if tasks[0].solver.backend == "torch":
        trajs = solve_batched([(t.net, t.params()) for t in tasks], tasks[0].inp, tasks[0].solver)
    else:
        trajs = [trajectory_for(t) for t in tasks]
    return trajs, [measure(t, tr, 0.0) for t, tr in zip(tasks, trajs)]


def _same_steps(a, b) -> bool:
    return (a.n_accepted, a.n_rejected) == (b.n_accepted, b.n_rejected) and np.allclose(
        a.step_t, b.step_t, rtol=0, atol=1e-9)


def cell(model, act, rules, samples, perturb) -> list[dict]:
    """One model × activation under one set of rules: a record per backend compared with numba."""
    backends = RULES[rules]
    res = {b: _solve(_tasks(model, act, b, rules, samples)) for b in backends}
    spreads = {b: run_tasks(_tasks(model, act, b, rules, samples, perturb))
               for b in backends if b != "torch"}
    ref_trajs, ref_rows = res["numba"]
    out = []
    for b in backends:
        trajs, rows = res[b]
        la = np.array([r["length"] for r in rows])
        lr = np.array([r["length"] for r in ref_rows])
        rel = np.abs(la - lr) / lr
        rec = {"rules": rules, "model": model, "activation": act, "backend": b, "n": samples,
               "same_steps": float(np.mean([_same_steps(x, y) for x, y in zip(trajs, ref_trajs)])),
               "length_median": float(np.median(la)), "rel_diff_median": float(np.median(rel)),
               "rel_diff_max": float(np.max(rel)), "L_mean": float(np.mean([r["L"] for r in rows]))}
        if b in spreads:
            ls = np.array([r["length_spread"] for r in spreads[b]])
            Ls = np.array([r["L_spread"] for r in spreads[b]])
            rec.update(length_spread_median=float(np.median(ls)), length_spread_max=float(np.max(ls)),
                       L_spread_median=float(np.median(Ls)), frac_spread_over_rtol=float(np.mean(ls > 1e-2)))
        out.append(rec)
    return out


def _markdown(df: pd.DataFrame) -> str:
    def fmt(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    rows = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    rows += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=list(CONFIGS), default="main")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--perturb", type=int, default=2)
    ap.add_argument("--rules", nargs="+", choices=list(RULES), default=list(RULES))
    ap.add_argument("--csv", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    print(f"# {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; config {args.config}, "
          f"{args.samples} networks per cell, perturb {args.perturb}")
    recs = []
    for rules in args.rules:
        for act in CONFIGS[args.config]:
            for model in MODELS:
                recs += cell(model, act, rules, args.samples, args.perturb)
                print(f"  {rules} {act} {model} done at {time.perf_counter() - start:.0f} s", flush=True)
    df = pd.DataFrame(recs)
    if args.csv:
        df.to_csv(args.csv, index=False)
    print(_markdown(df))
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
