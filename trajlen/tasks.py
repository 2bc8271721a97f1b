"""Pipeline stage 0½ — from a grid of spec values to the tasks of a sweep: the Cartesian product, the
samples or parameter files, the order chunks run in, and grid (study) files.

Library code: the sweep CLI, the studies and the benchmarks build their tasks here.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from . import spec as S
from .pipeline import Task, read_params_file
from .spec import SpecError

__all__ = ["configurations", "build_tasks", "build_module_tasks", "module_models", "count_networks",
           "round_robin", "chunks",
           "load_study_file", "check_samples_seed", "read_params_checked", "GRID_FIELDS",
           "SINGLE_FIELDS", "MAX_NETWORKS"]

#: Fields that take one value per sweep (not swept).
SINGLE_FIELDS = ("backend", "max_steps", "max_seconds", "device", "dtype", "perturb", "lyapunov")
#: Every field a grid may set: the specs' fields (``input_kind`` for InputSpec.kind) and semantics.
GRID_FIELDS = tuple(dict.fromkeys(
    ["semantics", "input_kind"]
    + [f.name for cls in (S.NetworkSpec, S.InputSpec, S.SolverSpec) for f in fields(cls)
       if f.name not in ("semantics", "kind")]))
#: A sweep plans at most this many networks (a task is ~1 KB of bookkeeping before it runs): split
#: a larger grid into several sweeps.
MAX_NETWORKS = 10_000_000
STUDY_KEYS = ("grid", "samples", "seed")
_INT64_MAX = 2 ** 63 - 1


#: network fields of one model only: left out of the other models' configurations of a sweep
MODEL_ONLY_FIELDS = {"cfc_mode": ("cfc",), "backbone_units": ("cfc",), "backbone_layers": ("cfc",)}


def _applicable(kw: dict) -> bool:
    """Drop from ``kw`` the fields its model does not have; False if its model does not take its
    activation (the product of a mixed sweep pairs each model with its own activations only)."""
    model = kw.get("model", S.NetworkSpec.model)
    for name, models in MODEL_ONLY_FIELDS.items():
        if name in kw and model not in models:
            del kw[name]
    if model in S.NO_FLOW:   # no vector field: its rows of a mixed sweep have no exponents (null lyap)
        kw.pop("lyapunov", None)
    return not isinstance(kw.get("activation"), str) or S.takes_activation(model, kw["activation"])


def configurations(values: dict[str, Sequence]) -> list[tuple]:
    """The validated ``(network, input, solver)`` specs of the Cartesian product of ``values`` (spec
    field → list of values), duplicates removed (a swept switch the preset already implies), in
    product order. A model is paired only with the activations it takes (:func:`~trajlen.spec.
    takes_activation`) and the fields it has; an activation no model takes is refused."""
    for name, vals in values.items():
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence) or len(vals) == 0:
            raise SpecError(f"{name} must be a non-empty list of values, got {vals!r}")
    names = list(values)
    configs: dict[tuple, None] = {}
    used: set = set()
    for combo in itertools.product(*(values[n] for n in names)):
        kw = {n: v for n, v in zip(names, combo) if v is not None}
        if not _applicable(kw):
            continue
        used.update([kw.get("activation"), ("model", kw.get("model"))])
        semantics = kw.pop("semantics", "reference")
        configs.setdefault(S.make_specs(semantics, **kw), None)
    acts = [a for a in values.get("activation", ()) if a is not None]
    unused = [a for a in acts if a not in used]
    if unused:
        models = ", ".join(map(str, dict.fromkeys(values.get("model", [S.NetworkSpec.model]))))
        raise SpecError(f"activation {unused[0]!r} is taken by none of the models {models}")
    idle = [m for m in values.get("model", ()) if ("model", m) not in used]
    if idle:
        takes = ", ".join(S.OWN_ACTIVATIONS.get(idle[0], S.ACTIVATION_NAMES))
        raise SpecError(f"model {idle[0]!r} takes none of the activations {', '.join(map(str, acts))} "
                        f"(it takes {takes}); add one, or sweep it separately")
    return list(configs)


def check_samples_seed(samples: Any, seed: Any) -> None:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise SpecError(f"samples must be an integer >= 1, got {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _INT64_MAX:
        raise SpecError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")


def read_params_checked(path: str):
    """The parameters of a ``--params`` file; any reader error is a :class:`SpecError`."""
    try:
        return read_params_file(str(path))
    except SpecError:
        raise
    except Exception as e:  # noqa: BLE001 — any reader error is a bad --params value
        raise SpecError(f"--params file {str(path)!r} is unreadable: {type(e).__name__}: {e}") from None


def count_networks(values: dict[str, Sequence], samples: int,
                   params_files: Sequence[str] | None = None) -> tuple[int, int]:
    """``(networks, configurations)`` a sweep of ``values`` would run, without building its tasks."""
    check_samples_seed(samples, 0)
    n_configs = len(configurations(values))
    return n_configs * (len(params_files) if params_files else samples), n_configs


def build_tasks(values: dict[str, Sequence], samples: int, seed: int,
                params_files: Sequence[str] | None = None) -> list[Task]:
    """Tasks for the Cartesian product of ``values`` (spec field → list of values) × samples, or ×
    the networks of ``params_files`` (their width and depth are the file's).

    Raises :class:`SpecError` (naming the field) on any invalid combination, before anything runs.
    """
    check_samples_seed(samples, seed)
    configs = configurations(values)
    n = len(configs) * (len(params_files) if params_files else samples)
    if n > MAX_NETWORKS:
        raise SpecError(f"the grid has {n} networks, more than one sweep plans "
                        f"(at most {MAX_NETWORKS}); split it into several sweeps")
    files = [(str(f), read_params_checked(str(f))) for f in params_files or ()]
    tasks: dict[str, Task] = {}
    for net, inp, sol in configs:
        if files:
            for f, p in files:
                t = Task(net.replace(**p.spec_fields()), inp, sol, seed, 0, params_file=f)
                tasks.setdefault(t.task_id, t)
            continue
        for s in range(samples):
            t = Task(net, inp, sol, seed, s)
            tasks.setdefault(t.task_id, t)
    return list(tasks.values())


def module_models(modules: Sequence[str]) -> list[str]:
    """The models of the networks ``--module`` specs name (loading them: this runs their code)."""
    from .user import load_source

    return [load_source(str(m)).spec_fields()["model"] for m in modules]


def build_module_tasks(values: dict[str, Sequence], modules: Sequence[str], seed: int,
                       given: set[str] | frozenset = frozenset()) -> list[Task]:
    """Tasks for your own networks (``--module`` specs, :func:`trajlen.user.load_source` — **this runs
    their code**): one per module and configuration of ``values``, the network's own fields (model,
    width, activation, the CfC's mode and backbone) taken from the module. A Python vector field
    runs on the scipy backend unless ``backend`` is in ``given``."""
    from .user import load_source

    check_samples_seed(1, seed)
    tasks: dict[str, Task] = {}
    for spec in modules:
        src = load_source(str(spec))
        vals = dict(values)
        vals.update({k: [v] for k, v in src.spec_fields().items()})
        if vals["model"] == ["ode"] and "backend" not in given:
            vals["backend"] = ["scipy"]
        for net, inp, sol in configurations(vals):
            t = Task(net, inp, sol, seed, 0, module=src.spec)
            tasks.setdefault(t.task_id, t)
    return list(tasks.values())


def round_robin(tasks: Sequence[Task]) -> list[Task]:
    """Order tasks by sample within configuration, configurations interleaved (sample 0 of every
    configuration, then sample 1, …): every chunk mixes cheap and expensive models (an LTC can
    cost 100× an N-ODE), so workers finish together instead of one trailing with all the LTCs."""
    rank: dict[tuple, int] = {}
    keyed = []
    for t in tasks:
        cfg = (t.net, t.inp, t.solver)
        rank[cfg] = rank.get(cfg, -1) + 1
        keyed.append((rank[cfg], len(keyed), t))
    return [t for *_k, t in sorted(keyed, key=lambda k: (k[0], k[1]))]


def chunks(tasks: Sequence[Task], size: int) -> list[list[Task]]:
    return [list(tasks[i:i + size]) for i in range(0, len(tasks), size)]


def _parse_study(p: Path, where: str) -> dict:
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise SpecError(f"{where} is unreadable: {e.strerror}") from None
    try:
        if p.suffix == ".toml":
            import tomllib

            data = tomllib.loads(raw.decode())
        elif p.suffix == ".json":
            data = json.loads(raw)
        else:
            raise SpecError(f"{where} must be .toml or .json")
    except SpecError:
        raise
    except Exception as e:  # noqa: BLE001 — any parse error is a bad file
        msg = str(e).splitlines()[0] if str(e) else ""
        raise SpecError(f"{where} does not parse: {type(e).__name__}: {msg}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{where} must hold a table/object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(STUDY_KEYS))
    if unknown:
        raise SpecError(f"{where} has unknown key(s) {', '.join(unknown)}; valid: {', '.join(STUDY_KEYS)}")
    return data


def _grid_values(grid: Any, where: str) -> dict[str, list]:
    if not isinstance(grid, dict):
        raise SpecError(f"{where}: grid must be a table of spec field -> value(s), got {grid!r}")
    values = {}
    for key, val in grid.items():
        name = str(key).replace("-", "_")
        if name not in GRID_FIELDS:
            raise SpecError(f"{where}: grid.{key} is not a spec field; valid: "
                            f"{', '.join(sorted(GRID_FIELDS))}")
        vals = val if isinstance(val, list) else [val]
        if not vals:
            raise SpecError(f"{where}: grid.{key} must be a value or a non-empty list, got []")
        if name in SINGLE_FIELDS and len(vals) != 1:
            raise SpecError(f"{where}: grid.{key} takes one value, got {val!r}")
        for v in vals:
            if isinstance(v, float) and not math.isfinite(v):
                raise SpecError(f"{where}: grid.{key} must be finite, got {v!r}")
            if isinstance(v, (dict, list)):
                raise SpecError(f"{where}: grid.{key} values must be numbers or strings, got {v!r}")
        values[name] = vals
    return values


def load_study_file(path: str | Path) -> dict[str, Any]:
    """Read a grid file: ``{"grid": {field: value or [values]}, "samples": int, "seed": int}``.

    TOML (``.toml``) or JSON (``.json``). Every key is checked here, naming the file and the key;
    the values are validated with the specs by :func:`build_tasks`. Returns ``{"values": {field:
    list}, "samples": ..., "seed": ...}`` with only the keys the file sets.
    """
    p = Path(path)
    where = f"study file {str(p)!r}"
    data = _parse_study(p, where)
    out: dict[str, Any] = {"values": _grid_values(data.get("grid", {}), where)}
    for key in ("samples", "seed"):
        if key in data:
            out[key] = data[key]
    try:
        check_samples_seed(out.get("samples", 1), out.get("seed", 0))
    except SpecError as e:
        raise SpecError(f"{where}: {e}") from None
    return out
