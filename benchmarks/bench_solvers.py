"""Benchmark: trajlen's batched torch solver vs a plain loop of ``scipy.integrate.solve_ivp`` (and, when
installed, torchdiffeq and torchode), side by side in one run. Run by hand, not by the tests:

    python benchmarks/bench_solvers.py --samples 4            # a few minutes on 2 cores

Workloads (k = 100, 1 layer, RK45, rtol 1e-2, atol 1e-4):

* ``table2`` — the Table-2 grid: node/ctrnn/ltc × tanh, sigmoid, relu, hardtanh, reference semantics
  (``NetworkSpec(semantics="reference")``, ``InputSpec(semantics="reference")``);
* ``paper`` — the same grid under paper semantics (N(0, σ²/k) weights, exact input).

Every solver runs single-threaded (``torch.set_num_threads(1)``: one process per core is how a sweep
uses the machine), on one field group (12 groups: model × activation) after another, all solvers on a
group before the next group, so that a shared machine's load changes hit them alike; CPU time is the
headline measure. Reported per solver: CPU and wall time, networks per CPU-second, RHS evaluations;
for trajlen also the *roofline share* = Σ over networks of (RHS evaluations it needs × the measured
CPU cost of one batched RHS row at the group's batch size) / its CPU time — the fraction of its time
spent in the RHS itself. torchdiffeq shares one step size
over its batch (the stiffest network's), torchode keeps one per network like trajlen.

Also measured: the float32 accuracy cost — relative change of the trajectory length (PCA + chord
length on the solver's refine-4 points, MATLAB controller) between float32 and float64.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time
from collections import defaultdict

import numpy as np
import scipy.integrate as si
import torch

from trajlen.measures import layer_measures
from trajlen.models import VectorField
from trajlen.params import sample_params
from trajlen.solve.batch import _field_key, solve_batched
from trajlen.spec import InputSpec, NetworkSpec, SolverSpec

MODELS = ("node", "ctrnn", "ltc")
ACTIVATIONS = ("tanh", "sigmoid", "relu", "hardtanh")
RTOL, ATOL = 1e-2, 1e-4


def workload(semantics: str, width: int, samples: int, seed: int = 0):
    inp = InputSpec(semantics=semantics)
    items = []
    for m in MODELS:
        for a in ACTIVATIONS:
            net = NetworkSpec(model=m, activation=a, width=width, semantics=semantics)
            items += [(net, sample_params(net, seed, s)) for s in range(samples)]
    return items, inp


def groups(items):
    g = defaultdict(list)
    for i, (net, _) in enumerate(items):
        g[_field_key(net)].append(i)
    return list(g.values())


# -- solvers ----------------------------------------------------------------------------------------------
# Each runner returns (wall s, CPU s, result). The machine may be shared: CPU time (one thread per
# process) is the fairer measure, and the solvers are interleaved group by group (see main) so that
# load changes hit all of them alike.
def _timed(fn, *a, **kw):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*a, **kw)
    return time.perf_counter() - w0, time.process_time() - c0, out


def _scipy_loop(items, inp):
    nfev = []
    for net, p in items:
        field = VectorField.from_params(net, inp, p)
        sol = si.solve_ivp(lambda t, y, field=field: field(np.array([t]), y[None])[0], (0.0, inp.t_end),
                           np.zeros(net.n_state), method="RK45", rtol=RTOL, atol=ATOL)
        nfev.append(sol.nfev)
    return nfev


def _trajlen(items, inp, dtype="float64", controller="scipy", output="steps"):
    solver = SolverSpec(backend="torch", method="RK45", controller=controller, rtol=RTOL, atol=ATOL,
                        output=output, refine=4, dtype=dtype)
    return solve_batched(items, inp, solver)


def _torchdiffeq(items, inp):
    """One group (one field): torchdiffeq's dopri5 on the whole batch as one ODE (one shared step)."""
    from torchdiffeq import odeint

    net = items[0][0]
    field = VectorField.from_params(net, inp, [p for _, p in items], xp=torch, dtype=torch.float64)
    b = len(items)
    calls = [0]

    def f(t, y):
        calls[0] += 1
        return field(t.expand(b).to(torch.float64), y)

    with torch.inference_mode():
        odeint(f, torch.zeros(b, net.n_state, dtype=torch.float64),
               torch.tensor([0.0, inp.t_end], dtype=torch.float64), method="dopri5", rtol=RTOL,
               atol=ATOL)
    return calls[0] * b


def _torchode(items, inp):
    """One group: torchode's Dopri5 with a per-network integral controller."""
    import torchode as to

    net = items[0][0]
    field = VectorField.from_params(net, inp, [p for _, p in items], xp=torch, dtype=torch.float64)
    b = len(items)
    term = to.ODETerm(field)
    solver = to.AutoDiffAdjoint(to.Dopri5(term=term), to.IntegralController(atol=ATOL, rtol=RTOL,
                                                                            term=term))
    with torch.inference_mode():
        sol = solver.solve(to.InitialValueProblem(
            y0=torch.zeros(b, net.n_state, dtype=torch.float64),
            t_start=torch.zeros(b, dtype=torch.float64),
            t_end=torch.full((b,), inp.t_end, dtype=torch.float64)))
    return int(sol.stats["n_f_evals"].sum())


# -- roofline --------------------------------------------------------------------------------
def rhs_row_cost(items, inp, repeats=200):
    """Seconds per network of one batched RHS evaluation, per field group, at the group's batch size."""
    cost = {}
    for idx in groups(items):
        net = items[idx[0]][0]
        field = VectorField.from_params(net, inp, [items[i][1] for i in idx], xp=torch,
                                        dtype=torch.float64)
        b = len(idx)
        y = torch.randn(b, net.n_state, dtype=torch.float64)
        t = torch.full((b,), 1.234, dtype=torch.float64)
        field(t, y)
        t0 = time.process_time()
        for _ in range(repeats):
            field(t, y)
        per_row = (time.process_time() - t0) / repeats / b
        for i in idx:
            cost[i] = per_row
    return cost


def float32_cost(items, inp):
    """Max and median relative trajectory-length change float32 vs float64 (MATLAB controller,
    refine 4, the reference measurement), over networks that end ok in both."""
    r64 = _trajlen(items, inp, "float64", controller="matlab", output="refine")
    r32 = _trajlen(items, inp, "float32", controller="matlab", output="refine")
    rel, steps = [], []
    for a, b in zip(r64, r32):
        if not (a.ok and b.ok):
            continue
        la, lb = layer_measures(a.x)["length"], layer_measures(b.x)["length"]
        rel.append(abs(lb - la) / la)
        steps.append(abs(b.n_accepted - a.n_accepted) / a.n_accepted)
    return np.max(rel), np.median(rel), np.max(steps), len(rel)


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in out.splitlines()
                     if line.startswith("Model name"))
    except Exception:  # noqa: BLE001 - lscpu missing: fall back to platform
        model = platform.processor()
    return f"{model}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=4, help="networks per (model, activation)")
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--workloads", default="table2,paper")
    ap.add_argument("--no-others", action="store_true", help="skip torchdiffeq/torchode")
    ap.add_argument("--no-f32", action="store_true", help="skip the float32 accuracy measurement")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"# {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# k={args.width}, 1 layer, {args.samples} samples x 12 configs, RK45 rtol={RTOL} atol={ATOL}")
    for wl in args.workloads.split(","):
        items, inp = workload("reference" if wl == "table2" else "paper", args.width, args.samples)
        n = len(items)
        solvers = {"scipy solve_ivp loop": _scipy_loop, "trajlen batched (f64)": _trajlen}
        if not args.no_others:
            for name, mod, fn in (("torchdiffeq dopri5 (shared step)", "torchdiffeq", _torchdiffeq),
                                  ("torchode Dopri5 (per-network step)", "torchode", _torchode)):
                try:
                    __import__(mod)
                    solvers[name] = fn
                except ImportError:
                    print(f"# {name}: not installed")
        wall = dict.fromkeys(solvers, 0.0)
        cpu = dict.fromkeys(solvers, 0.0)
        evals = dict.fromkeys(solvers, 0)
        res_tl: list = [None] * n
        nfev_loop = [0] * n
        with torch.inference_mode():
            for idx in groups(items):
                sub = [items[i] for i in idx]
                for name, fn in solvers.items():     # interleaved: every solver on this group
                    w, c, out = _timed(fn, sub, inp)
                    wall[name] += w
                    cpu[name] += c
                    if name.startswith("scipy"):
                        evals[name] += sum(out)
                        for i, f in zip(idx, out):
                            nfev_loop[i] = f
                    elif name.startswith("trajlen"):
                        evals[name] += sum(r.nfev for r in out)
                        for i, r in zip(idx, out):
                            res_tl[i] = r
                    else:
                        evals[name] += out
        cost = rhs_row_cost(items, inp)
        ideal = sum(r.nfev * cost[i] for i, r in enumerate(res_tl))
        same = sum(r.nfev == f for r, f in zip(res_tl, nfev_loop))
        base = cpu["scipy solve_ivp loop"]
        print(f"\n## workload {wl}: {n} networks ({len(groups(items))} groups of {args.samples})")
        print("| solver | CPU s | wall s | networks per CPU-s | vs scipy loop (CPU) | RHS evals (rows) "
              "| note |")
        print("|---|---|---|---|---|---|---|")
        for name in solvers:
            note = ""
            if name.startswith("trajlen"):
                note = f"roofline {ideal / cpu[name]:.0%}; nfev = scipy's on {same}/{n}"
            print(f"| {name} | {cpu[name]:.1f} | {wall[name]:.1f} | {n / cpu[name]:.2f} | "
                  f"{base / cpu[name]:.2f}x | {evals[name]} | {note} |", flush=True)
        if args.no_f32:
            continue
        mx, med, st, cnt = float32_cost(items, inp)
        print(f"\nfloat32 vs float64 ({wl}, matlab controller, refine 4, {cnt} networks ok in both): "
              f"trajectory length rel. change max {mx:.2e}, median {med:.2e}; "
              f"accepted steps rel. change max {st:.1%}")


if __name__ == "__main__":
    main()
