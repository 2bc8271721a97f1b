"""``python -m trajlen.sweep`` — run a grid of random networks and write a results table.

Every spec field is a flag; flags that take several values sweep their Cartesian product::

    python -m trajlen.sweep --activation hardtanh --width 100
    python -m trajlen.sweep --model ltc node --width 10 25 50 --samples 20 --jobs 2 --out results/w

Defaults: the authors'-code semantics (``--semantics reference``), because that is what produced the
published figures and Table 2; ``--semantics paper`` switches every difference at once, and each
difference has its own flag. Results go to a store directory (``--out``); a rerun with the same
``--out`` computes only the rows still missing.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from . import spec as S
from .pipeline import SCHEMA_VERSION, Task, read_params_file, run_tasks
from .results import ResultStore
from .spec import SpecError

__all__ = ["build_tasks", "run_sweep", "summarize", "main", "SweepResult"]

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
    "backend": ("backend", str, S.BACKENDS, "scipy"),
    "max-steps": ("max_steps", int, None, 200_000),
    "max-seconds": ("max_seconds", float, None, None),
    "device": ("device", str, S.DEVICES, "cpu"),
    "dtype": ("dtype", str, S.DTYPES, "float64"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, never a usage dump or traceback
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def make_parser(prog: str = "python -m trajlen.sweep") -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description=__doc__.split("\n\n")[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("spec (several values sweep their product)")
    for flag, (_, typ, choices, default) in SWEEP_FLAGS.items():
        g.add_argument(f"--{flag}", type=typ, nargs="+", choices=choices, default=default,
                       help=f"spec field {SWEEP_FLAGS[flag][0]}" + (" (None: from --semantics)"
                                                                    if default == [None] else ""))
    g2 = p.add_argument_group("solver backend")
    for flag, (_, typ, choices, default) in SINGLE_FLAGS.items():
        g2.add_argument(f"--{flag}", type=typ, choices=choices, default=default)
    r = p.add_argument_group("run")
    r.add_argument("--samples", type=int, default=10, help="random networks per configuration")
    r.add_argument("--seed", type=int, default=0, help="root seed")
    r.add_argument("--params", nargs="+", default=None, metavar="FILE",
                   help="run these networks (.npz from trajlen or .mat in the original code's layout) "
                        "instead of drawing --samples random ones")
    r.add_argument("--jobs", type=int, default=-1, help="parallel workers (-1: all cores)")
    r.add_argument("--chunk-size", type=int, default=None,
                   help="tasks per worker chunk and result shard (default: 4 scipy, 64 torch)")
    r.add_argument("--out", default="trajlen-results", help="result store directory")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return p


@dataclass
class SweepResult:
    table: pd.DataFrame
    n_computed: int
    n_skipped: int
    wall_s: float
    task_ids: list[str] = field(default_factory=list)


def build_tasks(values: dict[str, Sequence], samples: int, seed: int,
                params_files: Sequence[str] | None = None) -> list[Task]:
    """Tasks for the Cartesian product of ``values`` (spec field → list of values) × samples.

    Raises :class:`SpecError` (naming the field) on any invalid combination, before anything runs.
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise SpecError(f"samples must be an integer >= 1, got {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed!r}")
    names = list(values)
    tasks = []
    seen = set()
    for combo in itertools.product(*(values[n] for n in names)):
        kw = {n: v for n, v in zip(names, combo) if v is not None}
        semantics = kw.pop("semantics", "reference")
        net, inp, sol = S.make_specs(semantics, **kw)
        if params_files:
            for f in params_files:
                p = read_params_file(str(f))
                net_f = net.replace(width=p.width, depth=p.depth)
                t = Task(net_f, inp, sol, seed, 0, params_file=str(f))
                if t.task_id not in seen:
                    seen.add(t.task_id)
                    tasks.append(t)
            continue
        for s in range(samples):
            t = Task(net, inp, sol, seed, s)
            if t.task_id not in seen:  # e.g. a swept switch that the preset already implies
                seen.add(t.task_id)
                tasks.append(t)
    return tasks


def _chunks(tasks: Sequence[Task], size: int) -> list[list[Task]]:
    return [list(tasks[i:i + size]) for i in range(0, len(tasks), size)]


def _run_chunk(chunk: list[Task], store_path: str) -> int:
    rows = run_tasks(chunk)
    ResultStore(store_path, SCHEMA_VERSION).write_shard(rows)
    return len(rows)


def run_sweep(tasks: Sequence[Task], out: str | Path, jobs: int = 1, chunk_size: int | None = None,
              progress: bool = True, executor: Callable | None = None) -> SweepResult:
    """Run the tasks not yet in the store at ``out`` and return this sweep's rows.

    Chunks of ``chunk_size`` tasks run on ``jobs`` joblib workers; each chunk's rows are written
    as one shard as soon as it finishes, so an interrupted sweep loses at most the chunks in flight.
    Rows come back sorted by task id and are identical whatever ``jobs`` (timings aside).
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    start = time.perf_counter()
    store = ResultStore(out, SCHEMA_VERSION)
    done = store.done_ids()
    todo = [t for t in tasks if t.task_id not in done]
    if chunk_size is None:
        chunk_size = 64 if any(t.solver.backend == "torch" for t in todo) else 4
    if chunk_size < 1:
        raise SpecError(f"chunk size must be an integer >= 1, got {chunk_size!r}")
    # Interleave so expensive configurations (e.g. LTC) spread over workers instead of trailing.
    chunks = _chunks(todo, chunk_size)
    order = sorted(range(len(chunks)), key=lambda i: (i % 2, i))
    chunks = [chunks[i] for i in order]
    n_jobs = os.cpu_count() or 1 if jobs in (-1, 0) else jobs
    bar = tqdm(total=len(todo), desc="networks", unit="net", disable=not progress or not todo,
               dynamic_ncols=True)
    if todo:
        if n_jobs == 1 and executor is None:
            for ch in chunks:
                bar.update(_run_chunk(ch, str(out)))
        else:
            par = executor() if executor else Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            for n in par(delayed(_run_chunk)(ch, str(out)) for ch in chunks):
                bar.update(n)
    bar.close()
    table = store.consolidate()
    ids = {t.task_id for t in tasks}
    mine = table[table["task_id"].isin(ids)].reset_index(drop=True) if not table.empty else table
    return SweepResult(mine, len(todo), len(tasks) - len(todo), time.perf_counter() - start,
                       [t.task_id for t in tasks])


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


def format_summary(summary: pd.DataFrame) -> str:
    if summary.empty:
        return "no results"
    s = summary.copy()
    s["length median [IQR]"] = [f"{m:.4g} [{i:.3g}]" for m, i in zip(s.pop("length_median"),
                                                                      s.pop("length_iqr"))]
    s["L mean ± std"] = [f"{m:.3g} ± {d:.2g}" for m, d in zip(s.pop("L_mean"), s.pop("L_std"))]
    return s.to_string(index=False)


def values_from_args(args: argparse.Namespace) -> dict[str, list]:
    vals = {}
    for flag, (name, *_rest) in SWEEP_FLAGS.items():
        vals[name] = list(dict.fromkeys(getattr(args, flag.replace("-", "_"))))
    for flag, (name, *_rest) in SINGLE_FLAGS.items():
        vals[name] = [getattr(args, flag.replace("-", "_"))]
    return vals


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        tasks = build_tasks(values_from_args(args), args.samples, args.seed, args.params)
        if args.jobs < -1 or args.jobs == 0:
            raise SpecError(f"jobs must be -1 (all cores) or an integer >= 1, got {args.jobs}")
        res = run_sweep(tasks, args.out, jobs=args.jobs, chunk_size=args.chunk_size,
                        progress=not args.quiet)
    except SpecError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"{len(tasks)} networks ({res.n_computed} computed, {res.n_skipped} already in "
              f"{args.out}) in {res.wall_s:.1f} s; table: {Path(args.out) / 'results.parquet'}")
        print(format_summary(summarize(res.table)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
