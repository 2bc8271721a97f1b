"""The spine of trajlen: spec + seed + sample → parameters → solve → measures → one result row.

A :class:`Task` names one measurement. :func:`run_tasks` runs a list of them on the backend their
solver spec asks for (scipy: one network at a time; torch: batched) and returns rows — plain dicts
that the results store (:mod:`trajlen.results`) writes and everything downstream reads.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import __version__
from . import spec as S
from .inputs import input_curve
from .measures import (
    LAYER_COLUMNS,
    ROW_LISTS,
    arc_length,
    computational_depth,
    steps_per_interval,
    trajectory_measures,
)
from .models import ODE_MODELS, mlp
from .params import Params, import_mat, load_params, sample_params
from .perturb import SPREAD_COLUMNS, perturbed_params, spread_columns
from .spec import InputSpec, NetworkSpec, SolverSpec, SpecError, spec_key
from .trajectory import Trajectory

__all__ = ["Task", "run_tasks", "measure", "trajectory_for", "SCHEMA_VERSION", "versions"]

#: Bump when the meaning or set of result columns changes; the store refuses to mix schemas.
#: 3: the input controls (input_gain, input_omega, transient), perturb, length_spread, L_spread.
#: 4: the ncps models and your own (ode_unfolds, cfc_mode, backbone_units, backbone_layers,
#: module_path, module_sha256) and the Lyapunov exponents (lyapunov, lyap, lyap_max).
SCHEMA_VERSION = 4


@dataclass(frozen=True)
class Task:
    """One measurement: network ``sample`` of ``net`` under root ``seed``, driven by ``inp``,
    integrated as ``solver`` says. Its network is drawn, or read from ``params_file`` (``--params``),
    or is the one a ``module`` spec names (``--module``: your own, :mod:`trajlen.user`)."""

    net: NetworkSpec
    inp: InputSpec
    solver: SolverSpec
    seed: int = 0
    sample: int = 0
    params_file: str | None = None
    module: str | None = None

    def __post_init__(self) -> None:
        S.check_combination(self.net, self.inp, self.solver)
        if self.module is None and self.net.model in S.USER_MODELS:
            raise SpecError(f"model {self.net.model} is your own network: it needs a module (--module)")
        if self.module is not None and self.net.model not in S.USER_MODELS + ("ltc_ncps", "cfc"):
            raise SpecError(f"model {self.net.model} cannot come from a module (an ncps LTC or CfC, a "
                            "torch cell or a Python vector field can)")

    @functools.cached_property
    def task_id(self) -> str:
        """A stable hash of everything the row depends on (specs, seed, sample, the params file's
        content); computed once per task (a sweep asks for it several times)."""
        extra = [self.seed, self.sample]
        if self.params_file is not None:
            extra.append(file_digest(self.params_file))
        if self.module is not None:
            extra.append(["module", module_sha256(self.module)[:16]])
        return spec_key(self.net, self.inp, self.solver, extra=extra)

    def params(self):
        """The network's parameters: drawn from (seed, spec, sample), read from ``params_file``, or
        those of the ``module`` (:func:`trajlen.user.load_source`)."""
        if self.params_file is None and self.module is None:
            return sample_params(self.net, self.seed, self.sample)
        if self.module is not None:
            from .user import load_source

            p = load_source(self.module).params
            where = f"module {self.module!r}"
        else:
            p = read_params_file(self.params_file)
            where = f"params file {self.params_file!r}"
        fixed = p.spec_fields()
        spec = {k: getattr(self.net, k) for k in fixed}
        if spec != fixed:
            have = ", ".join(f"{k} {v}" for k, v in fixed.items())
            raise SpecError(f"{where} has {have}; the spec has "
                            + ", ".join(f"{k} {v}" for k, v in spec.items()))
        return p


def module_sha256(spec: str) -> str:
    """The SHA-256 of the parameters of the network a ``--module`` spec names (a row's
    ``module_sha256``, and part of its task id)."""
    from .user import load_source

    return load_source(spec).sha256


@lru_cache(maxsize=64)
def file_sha256(path: str) -> str:
    """The SHA-256 (hex) of a parameter file: a row's ``params_sha256``, and part of its task id."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as e:
        raise SpecError(f"params file {path!r} is unreadable: {e.strerror}") from None


def file_digest(path: str) -> str:
    return file_sha256(path)[:16]


def read_params_file(path: str) -> Params:
    """Read a ``.npz`` (trajlen) or ``.mat`` (original MATLAB layout) parameter file."""
    if str(path).endswith(".mat"):
        return import_mat(path)
    return load_params(path)


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Versions of the libraries a row's numbers depend on (read from the installed metadata, so
    that recording torch's version never imports it on a path that does not use it)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"trajlen_version": __version__}
    for name, dist in (("numpy", "numpy"), ("scipy", "scipy"), ("torch", "torch"), ("numba", "numba")):
        try:
            out[f"{name}_version"] = version(dist)
        except PackageNotFoundError:   # an optional extra not installed
            out[f"{name}_version"] = ""
    return out


def trajectory_for(task: Task, params: Params | None = None) -> Trajectory:
    """Solve one task on the scipy or numba backend (or evaluate a static ``mlp``); see
    :func:`run_tasks`."""
    params = task.params() if params is None else params
    if task.net.model in S.MAP_MODELS:
        return _map_trajectory(task, params)
    if task.net.model == "mlp":
        pts = input_curve(task.inp, task.solver.grid_points)
        x = mlp.forward(task.net, params, pts).reshape(len(pts), -1)
        t = np.linspace(task.inp.t_start, task.inp.t_end, len(pts))
        return Trajectory(t=t, x=x, step_t=t[:1])
    if task.solver.backend == "numba":
        from .solve.compiled import solve_compiled

        return solve_compiled([(task.net, params)], task.inp, task.solver)[0]
    from .solve.scipy_ivp import solve_scipy

    return solve_scipy(task.net, params, task.inp, task.solver)


def _map_trajectory(task: Task, params) -> Trajectory:
    """A map's states at the input samples (the CfC, :mod:`trajlen.models.cfc`, or a torch cell,
    :class:`trajlen.user.TorchCell`): no solver."""
    from .inputs import input_at, sample_times
    from .models import cfc

    t = sample_times(task.inp)
    run = cfc.run if task.net.model == "cfc" else type(params).run
    x = run(params, input_at(t, task.inp), task.inp.dt)
    n = len(t) - 1
    ok = bool(np.all(np.isfinite(x)))
    return Trajectory(t=t, x=x, step_t=t, n_accepted=n, nfev=n, status="ok" if ok else "non_finite",
                      message=f"a map over the {len(t)} input samples (dt = 2*pi/{n}); no ODE solver "
                              "ran, so the solver spec does not apply")


def _crashed(e: Exception) -> Trajectory:
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    loc = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return Trajectory(t=np.zeros(1), x=np.zeros((1, 1)), step_t=np.zeros(1), status="solver_error",
                      message=f"{type(e).__name__}: {e}{loc}")


#: network fields that say how the parameters were drawn: null in a row whose network was read
#: from a file (``--params``), or whose model has an initialisation of its own, where they did not
#: apply
DRAW_FIELDS = ("sigma_w2", "sigma_b2", "weight_init")
#: the switches of trajlen's layered models (SPEC §1): null in a row of a model they do not touch
LAYER_SWITCHES = ("recurrence", "ltc_decay", "ltc_A", "hardtanh")


def _notes(task: Task) -> str:
    """What a row's message must say about defaults the backend changed."""
    sol = task.solver
    if sol.backend == "scipy" and S.SEMANTICS[sol.semantics]["solver"]["controller"] != "scipy":
        return ("; scipy backend: scipy's step-size rules, not the reference semantics' MATLAB ode45 "
                "rules (those run on the numba and torch backends)")
    return ""


def measure(task: Task, traj: Trajectory, wall_s: float, params: Params | None = None,
            lyap: list[float] | None = None) -> dict:
    """The result row of one task: the full spec, where its parameters came from, counters, the
    per-layer measures (:func:`trajlen.measures.trajectory_measures`), L and steps per interval
    (from the solver's steps, whatever the output), versions. ``params`` (the network's parameters,
    when at hand) gives the row its smallest time constant ``tau_min``; ``lyap`` its Lyapunov
    exponents (``lyap``, ``lyap_max``: null unless the solver spec asks for them).

    After a transient T (``inp.transient``) every measure is the measured window's ``[T, T + 2π]``:
    the lengths and variances of its output points, ``l_input`` of the input over it, and L and
    steps per interval from the accepted steps that end in it (``traj.n_measured``; the step that
    straddles T counts), so that L keeps its meaning — Refine points per input interval over one
    period. ``n_accepted``, ``n_rejected`` and ``nfev`` stay the whole solve's (its cost).
    ``length_spread`` and ``L_spread`` are NaN here; :func:`run_tasks` fills them under
    ``solver.perturb``."""
    net, inp, solver = task.net, task.inp, task.solver
    row: dict = {"task_id": task.task_id, "schema_version": SCHEMA_VERSION}
    row.update(net.to_dict())
    row.update(input_kind=inp.kind, n_samples=inp.n_samples, input_gain=inp.gain,
               input_omega=inp.omega, transient=inp.transient)
    row.update({k: v for k, v in solver.to_dict().items() if k != "semantics"})
    row.update(seed=task.seed, sample=task.sample, params_path=None, params_sha256=None,
               module_path=task.module, module_sha256=None if task.module is None
               else module_sha256(task.module))
    if net.model in S.OWN_INIT:
        row.update({f: None for f in DRAW_FIELDS + LAYER_SWITCHES})
    if task.params_file is not None:
        row.update({f: None for f in DRAW_FIELDS})
        row.update(params_path=str(task.params_file), params_sha256=file_sha256(task.params_file))
    row.update(status=traj.status, message=traj.message + _notes(task), n_accepted=traj.n_accepted,
               n_rejected=traj.n_rejected, nfev=traj.nfev, njev=traj.njev, n_points=len(traj.t))
    row["spec_json"] = json.dumps({"network": net.to_dict(), "input": inp.to_dict(),
                                   "solver": solver.to_dict()}, sort_keys=True)
    row["l_input"] = arc_length(input_curve(inp))
    per_layer = trajectory_measures(traj, net.width, net.depth)
    row.update({name: per_layer[k][-1] for k, name in LAYER_COLUMNS.items()})
    row.update({k: per_layer[k] for k in ROW_LISTS})
    static = net.model == "mlp" or net.model in S.MAP_MODELS   # no solver: no steps to count
    row["L"] = float("nan") if static else computational_depth(traj.n_measured, solver.refine,
                                                                inp.n_samples)
    row["steps_per_interval"] = (float("nan") if static else
                                 steps_per_interval(traj.n_measured, inp.n_samples))
    row.update({name: float("nan") for name in SPREAD_COLUMNS})
    row["tau_min"] = float(getattr(params, "tau_min", float("nan")))
    if solver.lyapunov and lyap is None:   # not computed: the solve failed first
        lyap = [float("nan")] * solver.lyapunov
    row["lyap"] = lyap
    row["lyap_max"] = None if lyap is None else float(lyap[0])
    row["wall_s"] = wall_s
    row.update(versions())
    return row


def _solve(task: Task, params: Params) -> Trajectory:
    """One solve on the scipy or numba backend; a crash is a failure row, never an exception."""
    try:
        return trajectory_for(task, params)
    except SpecError:
        raise
    except Exception as e:  # noqa: BLE001 — one network's crash must not end the sweep
        return _crashed(e)


def _with_spread(row: dict, others: Sequence[dict]) -> dict:
    """``row`` with the perturbation spreads over it and the rows of the perturbed solves ``others``."""
    cols, note = spread_columns(row, others)
    row.update(cols)
    row["message"] += note
    return row


def run_tasks(tasks: Sequence[Task], progress: Callable[[int], None] | None = None) -> list[dict]:
    """Run tasks and return their rows in the same order.

    Tasks whose solver backend is ``torch`` (and that are not static ``mlp``) are integrated together
    by the batched solver, grouped by (input, solver) spec; the rest one by one (scipy, or the
    compiled kernel for ``numba``). A numerical failure is a row with its status, never an
    exception. Under ``solver.perturb = N`` each network is solved N more times with perturbed
    parameters (:mod:`trajlen.perturb`; in the same batch on torch) and its row gets the spreads;
    ``wall_s`` stays the unperturbed solve's.
    """
    rows: list[dict | None] = [None] * len(tasks)
    batched: dict[tuple, list[int]] = {}
    for i, task in enumerate(tasks):
        if task.solver.backend == "torch" and task.net.model in ODE_MODELS:
            batched.setdefault((task.inp, task.solver), []).append(i)
            continue
        start = time.perf_counter()
        params = task.params()
        traj = _solve(task, params)
        lyap = _lyapunov(task, params, traj)
        rows[i] = measure(task, traj, time.perf_counter() - start, params, lyap)
        del traj   # before the next solve: two large trajectories would double the peak
        if task.solver.perturb:   # each perturbed trajectory is measured and dropped in turn
            _with_spread(rows[i], [measure(task, _solve(task, q), 0.0) for q in perturbed_params(
                params, task.seed, task.sample, task.solver.perturb)])
        del params
        if progress:
            progress(1)
    for (inp, solver), idx in batched.items():
        from .solve.batch import solve_batched

        start = time.perf_counter()
        per_task = 1 + solver.perturb
        items = []
        for i in idx:
            params = tasks[i].params()
            items.append((tasks[i].net, params))
            items += [(tasks[i].net, q) for q in perturbed_params(params, tasks[i].seed,
                                                                  tasks[i].sample, solver.perturb)]
        counted = None if progress is None or per_task == 1 else _every(per_task, progress)
        trajs = solve_batched(items, inp, solver, progress=counted or progress)
        per = (time.perf_counter() - start) / len(items)  # a batch shares its wall time
        for j, i in enumerate(idx):
            first = j * per_task
            lap = time.perf_counter()
            lyap = _lyapunov(tasks[i], items[first][1], trajs[first])
            rows[i] = measure(tasks[i], trajs[first], per + time.perf_counter() - lap, items[first][1], lyap)
            if solver.perturb:
                _with_spread(rows[i], [measure(tasks[i], tr, 0.0)
                                       for tr in trajs[first + 1:first + per_task]])
    return rows  # type: ignore[return-value]


def _every(n: int, progress: Callable[[int], None]) -> Callable[[int], None]:
    """A progress callback for solves that reports networks: one per ``n`` solves finished."""
    done = [0]

    def report(k: int) -> None:
        before = done[0] // n
        done[0] += k
        if done[0] // n > before:
            progress(done[0] // n - before)

    return report


def _lyapunov(task: Task, params, traj: Trajectory) -> list[float] | None:
    """The task's Lyapunov exponents (:func:`trajlen.lyapunov.lyapunov_for`) when its solver spec
    asks for them and its solve succeeded; a failure of the tangent integration is NaNs and a note
    in the trajectory's message, never an exception."""
    m = task.solver.lyapunov
    if not m or not traj.ok:
        return None
    from .lyapunov import lyapunov_for

    try:
        return lyapunov_for(task.net, task.inp, params, m)
    except (FloatingPointError, ValueError, np.linalg.LinAlgError) as e:
        traj.message += f"; lyapunov: {type(e).__name__}: {e}"
        return [float("nan")] * m
