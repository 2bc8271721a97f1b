"""Benchmark: trajlen's compiled kernel against what a researcher would use instead, on the same
networks, interleaved, repeated — the ratios BENCHMARKS.md quotes ("Against the peers").

    PYTHONPATH=benchmarks python benchmarks/bench_peers.py --samples 4 --repeats 3

Workloads (k = 100, 1 layer, RK45 / Dormand–Prince 5(4), rtol 1e-2, atol 1e-4, scipy's step rules
where a solver has them, the solver's own points): ``table2`` — node/ctrnn/ltc × tanh, sigmoid, relu,
hardtanh under the reference semantics (the authors' code); ``paper`` — the same grid under the paper
semantics.

Competitors, each on every (model, activation) group in turn, their order rotated from group to
group and from repeat to repeat so that a shared machine's load hits them alike; CPU seconds (one
thread each):

* ``numba`` — trajlen ``backend="numba"`` (the kernel loaded from its cache before timing);
* ``lean`` — ``scipy.integrate.solve_ivp`` in a loop on a hand-written numpy right-hand side (the
  peer a user writes: the model's equation in five lines, :func:`lean_rhs`);
* ``field`` — the same loop on trajlen's generic ``VectorField``;
* ``torch`` — trajlen's batched torch solver (CPU);
* ``torchode`` — torchode's Dopri5 with a per-network integral controller, batched;
* ``torchdiffeq`` — torchdiffeq's dopri5, batched as one ODE (one step size for the whole batch);
* ``diffrax`` — diffrax's Dopri5 with a PID controller (as an I controller), ``jax.vmap`` over the
  group's networks, float64 on the CPU (``jax.jit`` compiled before timing).

For each repeat the ratio peer CPU / numba CPU over the whole workload; printed as the median and
the range [min, max] over the repeats, with the machine, the load average and the versions.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import defaultdict

import numpy as np
import scipy.integrate as si

from trajlen.models import VectorField
from trajlen.params import sample_params
from trajlen.spec import InputSpec, NetworkSpec, SolverSpec

MODELS = ("node", "ctrnn", "ltc")
ACTIVATIONS = ("tanh", "sigmoid", "relu", "hardtanh")
RTOL, ATOL = 1e-2, 1e-4
PEERS = ("numba", "lean", "field", "torch", "torchode", "torchdiffeq", "diffrax")


def workload(semantics: str, width: int, samples: int, seed: int = 0):
    inp = InputSpec(semantics=semantics)
    groups = []
    for m in MODELS:
        for a in ACTIVATIONS:
            net = NetworkSpec(model=m, activation=a, width=width, semantics=semantics)
            groups.append((net, [sample_params(net, seed, s) for s in range(samples)]))
    return groups, inp


# -- the hand-written peer --------------------------------------------------------------------------
def _phi_numpy(name):
    if name == "tanh":
        return np.tanh
    if name == "sigmoid":
        return lambda v: 1.0 / (1.0 + np.exp(-v))
    if name == "relu":
        return lambda v: np.maximum(v, 0.0)
    if name == "hardtanh":
        return lambda v: np.clip(v, -1.0, 1.0)
    # MATLAB's Htanh on a whole layer
    return lambda v: (np.ones_like(v) if np.all(v >= 1) else -np.ones_like(v) if np.all(v <= -1) else v)


def lean_rhs(net: NetworkSpec, p, inp: InputSpec):
    """``f(t, y)`` as a researcher would write it by hand for one network (SPEC §1a/§1b), closing
    over its arrays: the equations in a few numpy lines, no generality."""
    phi = _phi_numpy(net.phi)
    W_in, b, W_r, b_r = p.W[0, :2, :], p.b[0], p.W_r[0], p.b_r[0]
    inv_tau = 1.0 / p.tau[0]
    if inp.kind == "samples":
        ts = np.linspace(0.0, 2 * np.pi, inp.n_samples)
        s_, c_ = np.sin(ts), np.cos(ts)

        def u(t):
            return np.array([np.interp(t, ts, s_), np.interp(t, ts, c_)])
    else:
        def u(t):
            return np.array([np.sin(t), np.cos(t)])
    if net.semantics == "reference":
        A, A_r = p.E[0].sum(axis=0), p.E_r[0].sum(axis=0)
        if net.model == "node":
            return lambda t, x: phi(u(t) @ W_in + b)
        if net.model == "ctrnn":
            return lambda t, x: -x * inv_tau + phi(u(t) @ W_in + b)

        def ltc(t, x):
            f, g = phi(u(t) @ W_in + b), phi(x @ W_r + b_r)
            return -x * (inv_tau + np.abs(f) + np.abs(g)) + A * f + A_r * g
        return ltc
    A = p.A[0]
    if net.model == "node":
        return lambda t, x: phi(x @ W_r + u(t) @ W_in + b)
    if net.model == "ctrnn":
        return lambda t, x: -x * inv_tau + phi(x @ W_r + u(t) @ W_in + b)

    def ltc_paper(t, x):
        f = phi(x @ W_r + u(t) @ W_in + b)
        return -(inv_tau + f) * x + f * A
    return ltc_paper


# -- runners: each returns the RHS evaluations it made ----------------------------------------------
def run_numba(net, ps, inp):
    from trajlen.solve.compiled import solve_compiled

    sol = SolverSpec(backend="numba", method="RK45", controller="scipy", rtol=RTOL, atol=ATOL,
                     output="steps", semantics=net.semantics)
    return sum(r.nfev for r in solve_compiled([(net, p) for p in ps], inp, sol))


def run_lean(net, ps, inp):
    n = 0
    for p in ps:
        n += si.solve_ivp(lean_rhs(net, p, inp), (0.0, inp.t_end), np.zeros(net.n_state),
                          method="RK45", rtol=RTOL, atol=ATOL).nfev
    return n


def run_field(net, ps, inp):
    n = 0
    for p in ps:
        field = VectorField.from_params(net, inp, p)
        n += si.solve_ivp(lambda t, y, field=field: field(np.array([t]), y[None])[0], (0.0, inp.t_end),
                          np.zeros(net.n_state), method="RK45", rtol=RTOL, atol=ATOL).nfev
    return n


def run_torch(net, ps, inp):
    from trajlen.solve.batch import solve_batched

    sol = SolverSpec(backend="torch", method="RK45", controller="scipy", rtol=RTOL, atol=ATOL,
                     output="steps", semantics=net.semantics)
    return sum(r.nfev for r in solve_batched([(net, p) for p in ps], inp, sol))


def run_torchode(net, ps, inp):
    from bench_solvers import _torchode  # imports torch: only when this peer runs

    return _torchode([(net, p) for p in ps], inp)


def run_torchdiffeq(net, ps, inp):
    from bench_solvers import _torchdiffeq

    return _torchdiffeq([(net, p) for p in ps], inp)


_DIFFRAX: dict = {}


def _diffrax_solver(net: NetworkSpec, inp: InputSpec):
    """A jit-compiled, vmapped diffrax solve of one group's equations (cached per equation)."""
    import diffrax
    import jax
    import jax.numpy as jnp

    key = (net.model, net.phi, net.semantics, inp.kind)
    if key in _DIFFRAX:
        return _DIFFRAX[key]
    act = {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "relu": lambda v: jnp.maximum(v, 0.0),
           "hardtanh": lambda v: jnp.clip(v, -1.0, 1.0),
           "hardtanh_matlab": lambda v: jnp.where(jnp.all(v >= 1), 1.0 + 0 * v,
                                                  jnp.where(jnp.all(v <= -1), -1.0 + 0 * v, v))}[net.phi]
    ts = jnp.linspace(0.0, 2 * jnp.pi, inp.n_samples)

    def u(t):
        if inp.kind == "samples":
            return jnp.stack([jnp.interp(t, ts, jnp.sin(ts)), jnp.interp(t, ts, jnp.cos(ts))])
        return jnp.stack([jnp.sin(t), jnp.cos(t)])

    def vf(t, x, a):
        W_in, b, W_r, b_r, inv_tau, A, A_r = a
        if net.semantics == "reference":
            f = act(u(t) @ W_in + b)
            if net.model == "node":
                return f
            if net.model == "ctrnn":
                return -x * inv_tau + f
            g = act(x @ W_r + b_r)
            return -x * (inv_tau + jnp.abs(f) + jnp.abs(g)) + A * f + A_r * g
        f = act(x @ W_r + u(t) @ W_in + b)
        if net.model == "node":
            return f
        if net.model == "ctrnn":
            return -x * inv_tau + f
        return -(inv_tau + f) * x + f * A

    term = diffrax.ODETerm(vf)
    controller = diffrax.PIDController(rtol=RTOL, atol=ATOL, pcoeff=0.0, icoeff=1.0)

    def one(a):
        sol = diffrax.diffeqsolve(term, diffrax.Dopri5(), 0.0, float(inp.t_end), None,
                                  jnp.zeros(net.n_state), args=a, stepsize_controller=controller,
                                  max_steps=1_000_000, saveat=diffrax.SaveAt(t1=True))
        return sol.stats["num_steps"]

    _DIFFRAX[key] = jax.jit(jax.vmap(one))
    return _DIFFRAX[key]


def _diffrax_args(net, ps):
    import jax.numpy as jnp

    if net.semantics == "reference":
        A = [p.E[0].sum(axis=0) for p in ps]
        A_r = [p.E_r[0].sum(axis=0) for p in ps]
    else:
        A, A_r = [p.A[0] for p in ps], [p.A[0] for p in ps]
    cols = ([p.W[0, :2, :] for p in ps], [p.b[0] for p in ps], [p.W_r[0] for p in ps],
            [p.b_r[0] for p in ps], [1.0 / p.tau[0] for p in ps], A, A_r)
    return tuple(jnp.asarray(np.stack(c)) for c in cols)


def run_diffrax(net, ps, inp):
    steps = _diffrax_solver(net, inp)(_diffrax_args(net, ps))
    return int(np.asarray(steps).sum()) * 6     # Dopri5 with FSAL: 6 evaluations per step


RUNNERS = {"numba": run_numba, "lean": run_lean, "field": run_field, "torch": run_torch,
           "torchode": run_torchode, "torchdiffeq": run_torchdiffeq, "diffrax": run_diffrax}


def _available(peers):
    out = []
    for p in peers:
        mod = {"torch": "torch", "torchode": "torchode", "torchdiffeq": "torchdiffeq",
               "diffrax": "diffrax"}.get(p)
        if mod is not None:
            try:
                __import__(mod)
            except ImportError:
                print(f"# {p}: not installed (pip install -e '.[bench]')")
                continue
        out.append(p)
    return out


def warm(peers, groups, inp):
    """Compile what compiles (numba kernel, jax solves) before any timing."""
    for net, ps in groups:
        for p in peers:
            if p in ("numba", "diffrax"):
                RUNNERS[p](net, ps[:1] if p == "numba" else ps, inp)


def measure(peers, groups, inp, repeats):
    """``cpu[repeat][peer]`` (seconds over the whole workload) and ``nfev[peer]``."""
    cpu = [defaultdict(float) for _ in range(repeats)]
    nfev = defaultdict(int)
    for r in range(repeats):
        for g, (net, ps) in enumerate(groups):
            shift = (g + r) % len(peers)
            for p in peers[shift:] + peers[:shift]:
                c0 = time.process_time()
                n = RUNNERS[p](net, ps, inp)
                cpu[r][p] += time.process_time() - c0
                if r == 0:
                    nfev[p] += n
    return cpu, nfev


def header() -> str:
    import importlib.metadata as md

    vers = []
    for dist in ("numpy", "scipy", "numba", "torch", "torchode", "torchdiffeq", "jax", "diffrax"):
        try:
            vers.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor()
    load = os.getloadavg()
    return (f"# {model}, {os.cpu_count()} cores; load average {load[0]:.2f} {load[1]:.2f} "
            f"{load[2]:.2f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n# " + ", ".join(vers))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=4, help="networks per (model, activation)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--workloads", default="table2,paper")
    ap.add_argument("--peers", default=",".join(PEERS))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    peers = _available(args.peers.split(","))
    print(header())
    for wl in args.workloads.split(","):
        groups, inp = workload("reference" if wl == "table2" else "paper", args.width, args.samples)
        warm(peers, groups, inp)
        cpu, nfev = measure(peers, groups, inp, args.repeats)
        n = sum(len(ps) for _, ps in groups)
        print(f"\n## {wl}: {n} networks, k = {args.width}, {args.repeats} repeats "
              f"(load after: {os.getloadavg()[0]:.2f})")
        print("| solver | CPU s (median) | RHS evaluations | × numba's CPU: median [min, max] |")
        print("|---|---|---|---|")
        for p in peers:
            per = [c[p] for c in cpu]
            ratio = sorted(c[p] / c["numba"] for c in cpu) if "numba" in peers else [float("nan")]
            print(f"| {p} | {np.median(per):.2f} | {nfev[p]} | {np.median(ratio):.1f}× "
                  f"[{ratio[0]:.1f}, {ratio[-1]:.1f}] |")


if __name__ == "__main__":
    main()
