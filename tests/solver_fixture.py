"""The solver-output fixture: steps, counters, lengths and a hash of the output points of a fixed sample
of networks over every model × activation × semantics × method × backend, and of the networks the
authors' own code ran (``tests/data/octave-reference``).

Recorded once *before* a refactor of numeric code (``python -m tests.solver_fixture``, which rewrites
``tests/data/solver_fixture.json``) and compared exactly by ``tests/test_solver_fixture.py`` after it:
a refactor that is meant to change no number must leave every entry bit-identical. Recorded on main at
1117469 (2026-12-01), before the solver layer was laid out by concept (issue "One solver, many
executors"). Changed since, on purpose, and only there: the torch executor's refine and grid lengths
(48 of its 216 cases, by at most 7.4e-16 relative; var_pc1 likewise) when its after-the-fact dense
output moved to the one shared rule (:func:`trajlen.solve.output.dense_point`, a sequential sum over
the powers instead of a matmul). Every step count, rejection, nfev and L is as recorded on 1117469,
and every numba and scipy case bit-identical. L was then redefined (issue "Every row means what it
says"): it is counted from the solver's steps, ``refine × n_accepted / n_samples``, whatever the
output, so the 311 cases whose output was a grid, or steps under the reference semantics, were
re-recorded with the new L — their steps, nfev and lengths unchanged. Then torch's rows were made
independent of their batch (``torch.sigmoid`` and torch's ``pow`` round differently in their
vectorised and scalar loops): the 38 torch cases with the sigmoid moved by at most 5.8e-14 relative
in length (steps and nfev unchanged); no other case changed.

**Per CPU class.** numpy's float64 ``tanh``/``exp`` and the BLAS behind PCA are dispatched to SIMD
kernels chosen for the CPU at run time, and torch likewise, and these round differently: the same code
gives other bits on an AVX-512 Xeon than on the AMD EPYC machines where ``solver_fixture.json`` was
recorded (numba's step counts and output points agree on both; its lengths differ by ≤ 1.3e-15 through
PCA; scipy's and torch's trajectories move, a few scipy step counts too). So a machine of another class
records its own *variant* of the fixture from the same commit (``python -m tests.solver_fixture
--variant``: ``tests/data/solver_fixture_variants/<signature>.json``, with :func:`numeric_signature`);
the test compares exactly with the recording that matches, and on a machine no recording matches it
still checks the numba kernel's steps and points exactly (see ``tests/test_solver_fixture.py``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
FIXTURE = DATA / "solver_fixture.json"
VARIANTS = DATA / "solver_fixture_variants"
OCTAVE = DATA / "octave-reference"

SEMANTICS = ("reference", "paper")
MODELS = ("node", "ctrnn", "ltc")
ACTIVATIONS = ("tanh", "sigmoid", "relu", "hardtanh")  # hardtanh is MATLAB's Htanh under reference

#: (backend, method, controller, output): every method of every backend, the outputs each one's
#: paper artifacts use, and the streamed grid of the compiled kernel.
COMBOS = (
    ("numba", "RK45", "matlab", "refine"),
    ("numba", "RK45", "scipy", "steps"),
    ("numba", "RK23", "matlab", "refine"),
    ("numba", "RK23", "scipy", "refine"),
    ("numba", "RK45", "scipy", "grid"),
    ("numba", "RK45", "matlab", "grid"),
    ("numba", "ros23w", "matlab", "grid"),
    ("numba", "ros23w", "scipy", "refine"),
    ("numba", "RK45+ros23w", "scipy", "grid"),
    ("numba", "RK45+ros23w", "matlab", "grid"),
    ("torch", "RK45", "matlab", "refine"),
    ("torch", "RK45", "scipy", "grid"),
    ("torch", "RK23", "scipy", "steps"),
    ("torch", "RK23", "matlab", "refine"),
    ("torch", "euler", None, "steps"),
    ("torch", "rk4", None, "steps"),
    ("torch", "fused", None, "steps"),
    ("scipy", "RK45", "scipy", "refine"),
    ("scipy", "RK23", "scipy", "grid"),
    ("scipy", "DOP853", "scipy", "steps"),
    ("scipy", "BDF", "scipy", "grid"),
    ("scipy", "Radau", "scipy", "steps"),
    ("scipy", "LSODA", "scipy", "refine"),
)
WIDTH = 8
GRID_POINTS = 201
FIXED_DT = 0.05   # 126 steps: the fixed-step methods' arithmetic, at a tenth of the torch time of 0.01


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()[:16]


def cases() -> list[dict]:
    """Every case of the fixture, as the keyword values of :func:`trajlen.spec.make_specs` plus
    ``sample`` (and ``params_file`` for the Octave networks)."""
    out = []
    for sem, model, act, (backend, method, ctrl, output) in itertools.product(
            SEMANTICS, MODELS, ACTIVATIONS, COMBOS):
        kw = dict(semantics=sem, model=model, activation=act, width=WIDTH, depth=1, backend=backend,
                  method=method, output=output, grid_points=GRID_POINTS, sample=0)
        if ctrl is not None:
            kw["controller"] = ctrl
        else:
            kw["dt"] = FIXED_DT
        out.append(kw)
    # two layers: the layer glue and the per-layer measures
    two = COMBOS[:2] + COMBOS[10:12]
    for sem, model, act, combo in itertools.product(SEMANTICS, MODELS, ACTIVATIONS, two):
        backend, method, ctrl, output = combo
        out.append(dict(semantics=sem, model=model, activation=act, width=WIDTH, depth=2,
                        backend=backend, method=method, controller=ctrl, output=output,
                        grid_points=GRID_POINTS, sample=1))
    # the networks the authors' code ran, at the paper's tolerances, on the CPU backends (torch's
    # RK45 is held to these by the cases above and by its own parity tests)
    for f, model, backend in itertools.product(sorted(p.name for p in OCTAVE.glob("*.mat")), MODELS,
                                               ("numba", "scipy")):
        act = {"Htanh": "hardtanh"}.get(f.split("_")[1], f.split("_")[1])
        out.append(dict(semantics="reference", model=model, activation=act, width=100, depth=1,
                        backend=backend, method="RK45", output="refine", sample=0,
                        params_file=f"octave-reference/{f}"))
    return out


def case_key(kw: dict) -> str:
    return json.dumps(kw, sort_keys=True)


def _task(kw: dict):
    from trajlen.pipeline import Task
    from trajlen.spec import make_specs

    spec_kw = {k: v for k, v in kw.items() if k not in ("sample", "params_file", "semantics")}
    net, inp, sol = make_specs(kw["semantics"], **spec_kw)
    pf = str(DATA / kw["params_file"]) if "params_file" in kw else None
    return Task(net, inp, sol, seed=0, sample=kw["sample"], params_file=pf)


def record(row: dict) -> dict:
    rec = {k: row[k] for k in ("status", "n_accepted", "n_rejected", "nfev", "njev", "n_points")}
    rec["L"] = repr(float(row["L"]))
    rec["lengths"] = [repr(float(v)) for v in row["lengths"]]
    rec["var_pc1"] = repr(float(row["var_pc1"]))
    return rec


def compute(kws: list[dict] | None = None) -> dict[str, dict]:
    """The fixture's records for ``kws`` (default: every case): torch cases batched per solver spec,
    as a sweep runs them; the others one by one, with a hash of their output points (times, states)."""
    from trajlen.pipeline import measure, run_tasks, trajectory_for

    kws = cases() if kws is None else kws
    tasks = [_task(kw) for kw in kws]
    recs = {}
    batched = [i for i, t in enumerate(tasks) if t.solver.backend == "torch"]
    for i, row in zip(batched, run_tasks([tasks[i] for i in batched])):
        recs[case_key(kws[i])] = record(row)
    for kw, task in zip(kws, tasks):
        if task.solver.backend == "torch":
            continue
        traj = trajectory_for(task)
        rec = record(measure(task, traj, 0.0))
        rec["points_digest"] = _digest(traj.t) + _digest(traj.x)
        recs[case_key(kw)] = rec
    return recs


def numeric_signature() -> dict[str, str]:
    """What decides the fixture's last bits besides the code: the library versions, the SIMD targets
    numpy dispatches to on this CPU, the BLAS kernel family and torch's CPU capability."""
    import numba
    import scipy
    import threadpoolctl
    import torch
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    blas = sorted({f"{i['internal_api']}:{i.get('architecture')}" for i in threadpoolctl.threadpool_info()
                   if i["user_api"] == "blas"})
    return {"numpy": np.__version__, "scipy": scipy.__version__, "torch": torch.__version__,
            "numba": numba.__version__, "blas": ",".join(blas),
            "numpy_simd": ",".join(t for t in __cpu_dispatch__ if __cpu_features__.get(t)),
            "torch_cpu": torch.backends.cpu.get_cpu_capability()}


def signature_id(sig: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sig, sort_keys=True).encode()).hexdigest()[:12]


def recordings() -> list[tuple[str, dict | None, dict]]:
    """Every recording of the fixture: ``(name, signature or None, cases)``; the original first (its
    machines' signature was not recorded: AMD EPYC, 2 cores)."""
    out = [(FIXTURE.name, None, json.loads(FIXTURE.read_text()))]
    for f in sorted(VARIANTS.glob("*.json")) if VARIANTS.is_dir() else ():
        v = json.loads(f.read_text())
        out.append((f"{VARIANTS.name}/{f.name}", v["signature"], v["cases"]))
    return out


def main(argv: list[str]) -> int:
    import argparse
    import subprocess

    import torch

    ap = argparse.ArgumentParser(prog="python -m tests.solver_fixture",
                                 description="Record the solver fixture (before a numeric refactor).")
    ap.add_argument("--variant", action="store_true",
                    help="record this CPU class's variant instead of rewriting solver_fixture.json")
    args = ap.parse_args(argv)   # an unknown flag exits 2 before anything is overwritten
    torch.set_num_threads(1)
    recs = compute()
    if not args.variant:
        DATA.mkdir(exist_ok=True)
        FIXTURE.write_text(json.dumps(recs, indent=0, sort_keys=True) + "\n")
        print(f"{len(recs)} cases written to {FIXTURE}")
        return 0
    sig = numeric_signature()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=DATA).stdout.strip()
    VARIANTS.mkdir(parents=True, exist_ok=True)
    path = VARIANTS / f"{signature_id(sig)}.json"
    path.write_text(json.dumps({"signature": sig, "commit": commit, "cases": recs}, indent=0,
                               sort_keys=True) + "\n")
    print(f"{len(recs)} cases written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
