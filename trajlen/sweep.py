"""``python -m trajlen.sweep`` — run a grid of random networks and write a results table.

Every spec field is a flag; flags that take several values sweep their Cartesian product::

    python -m trajlen.sweep --activation hardtanh --width 100
    python -m trajlen.sweep --model ltc node --width 10 25 50 --samples 20 --jobs 2 --out results/w

Defaults: the authors'-code semantics (``--semantics reference``), because that is what produced the
published figures and Table 2; ``--semantics paper`` switches every difference at once, and each
difference has its own flag. A grid can also come from a study file (``--study grid.toml``).

Results go to a store directory (``--out``), one shard per finished chunk, so a sweep stopped at any
moment (Ctrl-C, SIGKILL, a lost node) loses only the chunks in flight: rerunning the same command
computes only the rows still missing. Chunks run in this process (``--jobs 1``), on local worker
processes (``--jobs N``), or on a dask cluster (``--scheduler tcp://HOST:8786`` or ``local:N``); the
rows are identical wherever they ran (timings aside). A solve that fails — non-finite state, step
budget, time limit, a worker process that dies — becomes a row with its failure status; the summary
counts failures by reason.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import execute as X
from . import spec as S
from .pipeline import SCHEMA_VERSION, Task, measure, read_params_file
from .results import ResultStore
from .spec import SpecError
from .trajectory import Trajectory

__all__ = ["build_tasks", "run_sweep", "summarize", "failure_counts", "main", "SweepResult",
           "load_study_file"]

# flag name -> (spec field, type, choices or None, default)
SWEEP_FLAGS: dict[str, tuple[str, type, tuple | None, list]] = {
    "model": ("model", str, S.MODELS, ["node", "ctrnn", "ltc"]),
    "activation": ("activation", str, S.ACTIVATION_NAMES, ["tanh"]),
    "width": ("width", int, None, [100]),
    "depth": ("depth", int, None, [1]),
    "sigma-w2": ("sigma_w2", float, None, [2.0]),
    "sigma-b2": ("sigma_b2", float, None, [1.0]),
    "semantics": ("semantics", str, S.SEMANTICS_NAMES, ["reference"]),
    "weight-init": ("weight_init", str, S.WEIGHT_INITS, [None]),
    "recurrence": ("recurrence", str, S.RECURRENCES, [None]),
    "ltc-decay": ("ltc_decay", str, S.LTC_DECAYS, [None]),
    "ltc-A": ("ltc_A", str, S.LTC_AS, [None]),
    "hardtanh": ("hardtanh", str, S.HARDTANHS, [None]),
    "input-kind": ("input_kind", str, S.INPUT_KINDS, [None]),
    "n-samples": ("n_samples", int, None, [100]),
    "method": ("method", str, S.METHODS, ["RK45"]),
    "controller": ("controller", str, S.CONTROLLERS, [None]),
    "rtol": ("rtol", float, None, [1e-2]),
    "atol": ("atol", float, None, [1e-4]),
    "output": ("output", str, S.OUTPUTS, [None]),
    "refine": ("refine", int, None, [None]),
    "grid-points": ("grid_points", int, None, [2001]),
    "dt": ("dt", float, None, [0.01]),
}
SINGLE_FLAGS: dict[str, tuple[str, type, tuple | None, object]] = {
    "backend": ("backend", str, S.BACKENDS, "auto"),
    "max-steps": ("max_steps", int, None, 200_000),
    "max-seconds": ("max_seconds", float, None, None),
    "device": ("device", str, S.DEVICES, "cpu"),
    "dtype": ("dtype", str, S.DTYPES, "float64"),
}


#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Exit status of a sweep ended by its --stall-timeout watchdog (completed shards kept).
EXIT_STALLED = 3
EXIT_TERMINATED = 143


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, never a usage dump or traceback
        self.exit(2, f"{self.prog}: error: {' '.join(str(message).split())} (see --help)\n")


def _finite_float(text: str) -> float:
    """argparse type: a float that is not NaN or ±inf (argparse's float accepts 'nan', 'inf')."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return v


def _type_for(typ: type) -> Callable:
    return _finite_float if typ is float else typ


def make_parser(prog: str = "python -m trajlen.sweep") -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description=__doc__.split("\n\n")[0], allow_abbrev=False,
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("spec (several values sweep their product)")
    for flag, (_, typ, choices, default) in SWEEP_FLAGS.items():
        g.add_argument(f"--{flag}", type=_type_for(typ), nargs="+", choices=choices, default=default,
                       help=f"spec field {SWEEP_FLAGS[flag][0]}" + (" (None: from --semantics)"
                                                                    if default == [None] else ""))
    g2 = p.add_argument_group("solver backend and per-solve limits (a solve over a limit is a "
                              "failure row: step_budget, time_limit)")
    for flag, (_, typ, choices, default) in SINGLE_FLAGS.items():
        g2.add_argument(f"--{flag}", type=_type_for(typ), choices=choices, default=default)
    r = p.add_argument_group("run")
    r.add_argument("--samples", type=int, default=10, help="random networks per configuration")
    r.add_argument("--seed", type=int, default=0, help="root seed")
    r.add_argument("--params", nargs="+", default=None, metavar="FILE",
                   help="run these networks (.npz from trajlen or .mat in the original code's layout) "
                        "instead of drawing --samples random ones")
    r.add_argument("--study", default=None, metavar="FILE",
                   help="a grid file (.toml or .json) with keys grid (spec field -> value or list), "
                        "samples, seed; flags given on the command line override it")
    r.add_argument("--out", default="trajlen-results", help="result store directory")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    r.add_argument("--dry-run", action="store_true",
                   help="validate every flag and the study file, print how many networks would run, "
                        "and exit")
    x = p.add_argument_group(
        "where it runs",
        "Chunks of --chunk-size tasks run in this process (--jobs 1), on local worker processes "
        "(--jobs N), or on a dask cluster (--scheduler). The driver writes every result shard, so "
        "dask workers need trajlen installed but no access to --out (files given to --params must "
        "be readable by the workers at the same path). Rows are identical wherever they ran.")
    x.add_argument("--jobs", type=int, default=-1,
                   help="local worker processes (-1: all cores; 1: in this process)")
    x.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a dask.distributed cluster: a scheduler address such as "
                        "tcp://HOST:8786 (start one with 'dask scheduler' and 'dask worker "
                        "tcp://HOST:8786'), or local:N for a LocalCluster of N worker processes "
                        "(local: one per core); --jobs is then ignored")
    x.add_argument("--connect-timeout", type=_finite_float, default=X.CONNECT_TIMEOUT_S, metavar="S",
                   help="seconds to wait for the --scheduler to answer (or a local:N cluster to "
                        "start) and for its first worker")
    x.add_argument("--stall-timeout", type=_finite_float, default=X.STALL_TIMEOUT_S, metavar="S",
                   help="end the sweep (exit status 3, completed shards kept) when for S seconds no "
                        "chunk finished and no worker worked on one (workers lost, frozen, or a "
                        "cluster with no workers; a slow chunk is not a stall); 0: wait forever")
    x.add_argument("--chunk-size", type=int, default=None,
                   help="tasks per worker chunk and result shard (default: 4 scipy, 64 torch or numba)")
    x.add_argument("--max-retries", type=int, default=2,
                   help="a task whose worker process dies is run alone this many more times before "
                        "it is recorded as a worker_died failure (dask: the scheduler's own retries, "
                        "distributed.scheduler.allowed-failures, take this role)")
    return p


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: this sweep's rows (sorted by task id) and counts."""

    table: pd.DataFrame
    n_computed: int
    n_skipped: int
    wall_s: float
    task_ids: list[str] = field(default_factory=list)

    @property
    def failures(self) -> dict[str, int]:
        """Failure rows of this sweep by reason (status), most frequent first."""
        return failure_counts(self.table)


def _configurations(values: dict[str, Sequence]) -> list[tuple]:
    """The validated (network, input, solver) specs of the Cartesian product, duplicates removed."""
    for name, vals in values.items():
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence) or len(vals) == 0:
            raise SpecError(f"{name} must be a non-empty list of values, got {vals!r}")
    names = list(values)
    configs = []
    for combo in itertools.product(*(values[n] for n in names)):
        kw = {n: v for n, v in zip(names, combo) if v is not None}
        semantics = kw.pop("semantics", "reference")
        triple = S.make_specs(semantics, **kw)
        if triple not in configs:  # e.g. a swept switch that the preset already implies
            configs.append(triple)
    return configs


def _check_samples_seed(samples: Any, seed: Any) -> None:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise SpecError(f"samples must be an integer >= 1, got {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed!r}")


def _read_params_checked(path: str):
    try:
        return read_params_file(str(path))
    except SpecError:
        raise
    except Exception as e:  # noqa: BLE001 — any reader error is a bad --params value
        raise SpecError(f"--params file {str(path)!r} is unreadable: {type(e).__name__}: {e}") from None


def build_tasks(values: dict[str, Sequence], samples: int, seed: int,
                params_files: Sequence[str] | None = None) -> list[Task]:
    """Tasks for the Cartesian product of ``values`` (spec field → list of values) × samples.

    Raises :class:`SpecError` (naming the field) on any invalid combination, before anything runs.
    """
    _check_samples_seed(samples, seed)
    tasks = []
    seen = set()
    for net, inp, sol in _configurations(values):
        if params_files:
            for f in params_files:
                p = _read_params_checked(str(f))
                net_f = net.replace(width=p.width, depth=p.depth)
                t = Task(net_f, inp, sol, seed, 0, params_file=str(f))
                if t.task_id not in seen:
                    seen.add(t.task_id)
                    tasks.append(t)
            continue
        for s in range(samples):
            t = Task(net, inp, sol, seed, s)
            if t.task_id not in seen:
                seen.add(t.task_id)
                tasks.append(t)
    return tasks


def _round_robin(tasks: Sequence[Task]) -> list[Task]:
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


def _chunks(tasks: Sequence[Task], size: int) -> list[list[Task]]:
    return [list(tasks[i:i + size]) for i in range(0, len(tasks), size)]


def _check_int(name: str, value: Any, minimum: int, extra: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f"{name} must be an integer >= {minimum}{extra}, got {value!r}")


def _n_jobs(jobs: Any) -> int:
    if jobs == -1:
        return os.cpu_count() or 1
    _check_int("jobs", jobs, 1, " (or -1 for all cores)")
    return jobs


def _dead_row(task: Task, message: str) -> dict:
    traj = Trajectory(t=np.zeros(1), x=np.zeros((1, 1)), step_t=np.zeros(1), status="worker_died",
                      message=f"worker process died running this task: {message}")
    return measure(task, traj, float("nan"))


def run_sweep(tasks: Sequence[Task], out: str | Path, jobs: int = 1, chunk_size: int | None = None,
              progress: bool = True, executor: Callable | None = None, *,
              scheduler: Any = None, max_retries: int = 2,
              runner: Callable[[Sequence[Task]], list[dict]] | None = None,
              connect_timeout: float = X.CONNECT_TIMEOUT_S,
              stall_timeout: float | None = X.STALL_TIMEOUT_S,
              notify: Callable[[str], None] | None = None) -> SweepResult:
    """Run the tasks not yet in the store at ``out`` and return this sweep's rows.

    Parameters
    ----------
    tasks : from :func:`build_tasks`.
    out : result store directory (created if absent; locked for the duration of the sweep).
    jobs : local worker processes; 1 runs in this process, -1 uses every core.
    chunk_size : tasks per worker chunk and per result shard (default 4 scipy, 64 torch or numba).
    progress : show a progress bar.
    executor : a callable returning a ``joblib.Parallel``-like object to run chunks on instead.
    scheduler : a dask scheduler address (``"tcp://HOST:8786"``), ``"local"``/``"local:N"`` for a
        LocalCluster, or a ``distributed.Client``; overrides ``jobs`` and ``executor``.
    max_retries : times a task whose worker died is run again alone before it is recorded as a
        ``worker_died`` row (local workers; dask retries on its own).
    runner : the function a worker applies to a chunk (default :func:`trajlen.pipeline.run_tasks`);
        tests inject faults through it.
    connect_timeout : seconds to wait for a scheduler address to answer and for its first worker.
    stall_timeout : seconds without a finished chunk or a working worker after which the sweep
        raises :class:`trajlen.execute.Stalled` (None or 0: never); not for ``jobs=1``.
    notify : called with a one-line message when the compiled kernel is built for this machine (first
        use), before any worker starts.

    Each chunk's rows are written as one shard by this process as soon as the chunk finishes, so an
    interrupted sweep loses at most the chunks in flight, and a rerun computes only what is missing.
    Rows come back sorted by task id and are identical whatever ran them (timings aside).
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    if chunk_size is not None:
        _check_int("chunk size", chunk_size, 1)
    _check_int("max retries", max_retries, 0)
    n_jobs = _n_jobs(jobs)
    if scheduler is not None and isinstance(scheduler, str):
        X.validate_scheduler(scheduler)
    store = ResultStore(out, SCHEMA_VERSION)
    with store.lock():
        store.plan([t.task_id for t in tasks])  # this sweep's shards are not foreign
        done = store.done_ids()
        todo = [t for t in tasks if t.task_id not in done]
        torch = any(t.solver.backend == "torch" for t in todo)
        if chunk_size is None:
            # torch chunks are batches; a numba network takes milliseconds, so small units would
            # spend their time in scheduling and shard writes rather than solving.
            chunk_size = 64 if torch or any(t.solver.backend == "numba" for t in todo) else 4
        if not torch:  # torch chunks are batches: keep a configuration's networks together
            todo = _round_robin(todo)
        chunks = _chunks(todo, chunk_size)
        _compile_first(todo, notify)
        bar = tqdm(total=len(todo), desc="networks", unit="net", disable=not progress or not todo,
                   dynamic_ncols=True)

        def on_rows(unit: list[Task], rows: list[dict]) -> None:
            store.write_shard(rows)
            bar.update(len(rows))

        def on_dead(task: Task, message: str) -> None:
            store.write_shard([_dead_row(task, message)])
            bar.update(1)

        try:
            if chunks:
                # no more local workers than chunks: each one costs a process start
                with _pool(scheduler, min(n_jobs, len(chunks)), executor, runner,
                           connect_timeout, store, stall_timeout) as pool:
                    X.drive(pool, chunks, on_rows, on_dead, max_retries=max_retries)
        finally:
            bar.close()
        table = store.consolidate()
    ids = {t.task_id for t in tasks}
    mine = table[table["task_id"].isin(ids)].reset_index(drop=True) if not table.empty else table
    return SweepResult(mine, len(todo), len(tasks) - len(todo), time.perf_counter() - start,
                       [t.task_id for t in tasks])


#: CPU seconds a first use of the compiled kernel takes to build it (BENCHMARKS.md, "Kernel compile
#: time"); what the one-time notice says.
COMPILE_ESTIMATE_S = 20


def _compile_first(tasks: Sequence[Task], notify: Callable[[str], None] | None) -> None:
    """Build (or load) the compiled kernels the numba tasks need here, in the driver, before workers
    start: they then load them from the cache instead of each compiling them."""
    methods = sorted({t.solver.method for t in tasks if t.solver.backend == "numba"})
    if not methods:
        return
    from .solve import compiled

    if not compiled.kernel_cached(methods) and notify is not None:
        notify(f"compiling the solver kernel for this machine (once, ~{COMPILE_ESTIMATE_S} s; "
               f"cached in {compiled.CACHE})")
    compiled.warm_up(methods)


@contextlib.contextmanager
def _pool(scheduler: Any, n_jobs: int, executor: Callable | None, runner, timeout: float,
          store: ResultStore, stall_timeout: float | None):
    if scheduler is not None:
        with X.dask_client(scheduler, timeout, log_dir=store.log_dir, local_dir=store.tmp_dir) as client:
            yield X.DaskPool(client, runner, stall_timeout=stall_timeout)
    elif executor is not None or n_jobs > 1:
        yield X.JoblibPool(n_jobs, runner, executor, tmp_dir=store.tmp_dir, stall_timeout=stall_timeout)
    else:
        yield X.InProcessPool(runner)


def _varying(df: pd.DataFrame) -> list[str]:
    cols = ["semantics", "model", "activation", "width", "depth", "sigma_w2", "sigma_b2",
            "weight_init", "recurrence", "ltc_decay", "ltc_A", "hardtanh", "input_kind",
            "n_samples", "method", "controller", "rtol", "atol", "output", "refine", "backend"]
    keep = [c for c in cols if c in df.columns and df[c].astype(str).nunique() > 1]
    return keep if "model" in keep else ["model"] + keep


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: n, median and IQR of length, mean ± std of L, failures by reason."""
    if df.empty:
        return pd.DataFrame()
    by = _varying(df)
    out = []
    for key, g in df.groupby(by, sort=True, dropna=False):
        ok = g[g["status"] == "ok"]
        q1, med, q3 = (np.nanpercentile(ok["length"], [25, 50, 75]) if len(ok)
                       else (np.nan, np.nan, np.nan))
        fails = g.loc[g["status"] != "ok", "status"].value_counts()
        rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        rec.update(n=len(g), length_median=med, length_iqr=q3 - q1,
                   L_mean=ok["L"].mean(), L_std=ok["L"].std(ddof=1) if len(ok) > 1 else np.nan,
                   failures=", ".join(f"{k}: {v}" for k, v in fails.items()) or "0")
        out.append(rec)
    return pd.DataFrame(out)


def failure_counts(df: pd.DataFrame) -> dict[str, int]:
    """Failure rows over the whole table by reason (``status``), most frequent first."""
    if df.empty or "status" not in df.columns:
        return {}
    fails = df.loc[df["status"] != "ok", "status"].value_counts()
    return {str(k): int(v) for k, v in fails.items()}


def format_failures(counts: dict[str, int], n: int) -> str:
    if not counts:
        return f"failures: none of {n}"
    total = sum(counts.values())
    return f"failures: {total} of {n} (" + ", ".join(f"{k}: {v}" for k, v in counts.items()) + ")"


def format_summary(summary: pd.DataFrame) -> str:
    if summary.empty:
        return "no results"
    s = summary.copy()
    s["length median [IQR]"] = [f"{m:.4g} [{i:.3g}]" for m, i in zip(s.pop("length_median"),
                                                                      s.pop("length_iqr"))]
    s["L mean ± std"] = [f"{m:.3g} ± {d:.2g}" for m, d in zip(s.pop("L_mean"), s.pop("L_std"))]
    return s.to_string(index=False)



#: study-file keys besides ``grid``
STUDY_KEYS = ("grid", "samples", "seed")
#: spec field name -> its flag, for every field a grid may set
GRID_FIELDS = {name: flag for flag, (name, *_r) in {**SWEEP_FLAGS, **SINGLE_FLAGS}.items()}


def load_study_file(path: str | Path) -> dict[str, Any]:
    """Read a grid file: ``{"grid": {field: value or [values]}, "samples": int, "seed": int}``.

    TOML (``.toml``) or JSON (``.json``). Every key is checked here, naming the file and the key;
    the values are validated with the specs by :func:`build_tasks`. Returns ``{"values": {field:
    list}, "samples": ..., "seed": ...}`` with only the keys the file sets.
    """
    p = Path(path)
    where = f"study file {str(p)!r}"
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
    out: dict[str, Any] = {}
    grid = data.get("grid", {})
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
        if name in SINGLE_FLAGS_FIELDS and len(vals) != 1:
            raise SpecError(f"{where}: grid.{key} takes one value, got {val!r}")
        for v in vals:
            if isinstance(v, float) and not math.isfinite(v):
                raise SpecError(f"{where}: grid.{key} must be finite, got {v!r}")
            if isinstance(v, (dict, list)):
                raise SpecError(f"{where}: grid.{key} values must be numbers or strings, got {v!r}")
        values[name] = vals
    out["values"] = values
    for key in ("samples", "seed"):
        if key in data:
            out[key] = data[key]
    try:
        _check_samples_seed(out.get("samples", 1), out.get("seed", 0))
    except SpecError as e:
        raise SpecError(f"{where}: {e}") from None
    return out


SINGLE_FLAGS_FIELDS = {name for name, *_r in SINGLE_FLAGS.values()}


def _given_flags(argv: Sequence[str]) -> set[str]:
    """Long flags present on the command line (abbreviations are off, so this is exact)."""
    return {a[2:].split("=", 1)[0] for a in argv if a.startswith("--")}


def values_from_args(args: argparse.Namespace, base: dict[str, list] | None = None,
                     given: set[str] | None = None) -> dict[str, list]:
    """Spec values from parsed flags; with ``base`` (a study file's grid), flags not ``given``
    explicitly keep the file's values."""
    vals = {}
    base = base or {}
    for flag, (name, *_rest) in {**SWEEP_FLAGS, **SINGLE_FLAGS}.items():
        v = getattr(args, flag.replace("-", "_"))
        if name in base and (given is None or flag not in given):
            vals[name] = list(base[name])
        else:
            vals[name] = list(dict.fromkeys(v)) if isinstance(v, list) else [v]
    return vals


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@contextlib.contextmanager
def _clean_signals():
    """SIGTERM behaves like Ctrl-C (a clean stop keeping completed shards); restored afterwards."""
    class _Terminated(KeyboardInterrupt):
        pass

    def on_term(signum, frame):
        raise _Terminated()

    try:
        old = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI. Returns the exit status: 0 done (failure rows included), 2 bad input (one line on
    stderr naming the flag or field), 3 stalled (``--stall-timeout``: no progress; completed shards
    kept), 130 interrupted (completed shards kept; rerun to resume)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a parse error (2, already printed on one line)
        return e.code if isinstance(e.code, int) else 2
    prog = parser.prog
    store = None
    try:
        with warnings.catch_warnings(), _clean_signals():
            warnings.showwarning = _show_warning
            study = load_study_file(args.study) if args.study else {}
            values = values_from_args(args, study.get("values"), _given_flags(argv))
            samples = args.samples if "samples" in _given_flags(argv) else study.get("samples", args.samples)
            seed = args.seed if "seed" in _given_flags(argv) else study.get("seed", args.seed)
            _n_jobs(args.jobs)
            if args.chunk_size is not None:
                _check_int("chunk-size", args.chunk_size, 1)
            _check_int("max-retries", args.max_retries, 0)
            if args.scheduler is not None:
                X.validate_scheduler(args.scheduler)
            if args.connect_timeout <= 0:
                raise SpecError(f"connect-timeout must be > 0 seconds, got {args.connect_timeout!r}")
            if args.stall_timeout < 0:
                raise SpecError(f"stall-timeout must be >= 0 seconds (0: never), got {args.stall_timeout!r}")
            store = ResultStore(args.out, SCHEMA_VERSION)  # refuses another schema before any work
            if args.dry_run:
                _check_samples_seed(samples, seed)
                configs = _configurations(values)
                per = len(args.params) if args.params else samples
                for f in args.params or ():
                    _read_params_checked(f)
                print(f"{len(configs) * per} networks in {len(configs)} configuration(s) would run; "
                      f"results to {args.out}")
                return 0
            tasks = build_tasks(values, samples, seed, args.params)
            res = run_sweep(tasks, args.out, jobs=args.jobs, chunk_size=args.chunk_size,
                            progress=not args.quiet, scheduler=args.scheduler,
                            max_retries=args.max_retries, connect_timeout=args.connect_timeout,
                            stall_timeout=args.stall_timeout,
                            notify=None if args.quiet else _note)
    except SpecError as e:
        print(f"{prog}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except X.Stalled as e:
        n = len(store.shards()) if store is not None else 0
        print(f"{prog}: stalled: {_one_line(e)}; {n} completed shard(s) kept in {args.out}; rerun the "
              "same command to resume", file=sys.stderr)
        return EXIT_STALLED
    except KeyboardInterrupt as e:
        n = len(store.shards()) if store is not None else 0
        what = "terminated" if type(e).__name__ == "_Terminated" else "interrupted"
        print(f"{prog}: {what}; {n} completed shard(s) kept in {args.out}; rerun the same command "
              "to compute only what is missing", file=sys.stderr)
        return EXIT_TERMINATED if what == "terminated" else EXIT_INTERRUPTED
    if not args.quiet:
        print(f"{len(tasks)} networks ({res.n_computed} computed, {res.n_skipped} already in "
              f"{args.out}) in {res.wall_s:.1f} s; table: {Path(args.out) / 'results.parquet'}")
        print(format_summary(summarize(res.table)))
        print(format_failures(res.failures, len(res.table)))
    return 0


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {_one_line(message)}", file=sys.stderr if file is None else file)


if __name__ == "__main__":
    sys.exit(main())
