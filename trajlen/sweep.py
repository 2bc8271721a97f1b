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
processes (``--jobs N``), or on a dask cluster (``--scheduler tcp://HOST:8786`` or ``local:N``). A
solve that fails — non-finite state, step budget, time limit, a worker process that dies — becomes a
row with its failure status; the summary counts failures by reason.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from . import cli
from . import execute as X
from . import spec as S
from .driver import SweepResult, check_int, dead_row, n_jobs, run_sweep
from .pipeline import SCHEMA_VERSION
from .resources import check_memory, estimate, format_bytes, parse_bytes
from .results import ResultStore
from .spec import SpecError
from .summary import (
    describe_run,
    failure_counts,
    format_failures,
    format_summary,
    paired_comparisons,
    summarize,
)
from .tasks import (
    build_module_tasks,
    build_tasks,
    check_samples_seed,
    count_networks,
    load_study_file,
    module_models,
    read_params_checked,
)

__all__ = ["build_tasks", "run_sweep", "summarize", "failure_counts", "main", "SweepResult",
           "load_study_file", "make_parser", "SWEEP_FLAGS", "SINGLE_FLAGS", "dead_row"]

# flag name -> (spec field, type, choices or None, default)
SWEEP_FLAGS: dict[str, tuple[str, type, tuple | None, list]] = {
    "model": ("model", str, tuple(m for m in S.MODELS if m not in S.USER_MODELS), ["node", "ctrnn", "ltc"]),
    "activation": ("activation", str, S.ALL_ACTIVATIONS, [None]),
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
    "cfc-mode": ("cfc_mode", str, S.CFC_MODES, [None]),
    "backbone-units": ("backbone_units", int, None, [None]),
    "backbone-layers": ("backbone_layers", int, None, [None]),
    "input-kind": ("input_kind", str, S.INPUT_KINDS, [None]),
    "n-samples": ("n_samples", int, None, [100]),
    "input-gain": ("gain", float, None, [1.0]),
    "input-omega": ("omega", float, None, [1.0]),
    "transient": ("transient", float, None, [0.0]),
    "method": ("method", str, S.METHODS, ["RK45"]),
    "controller": ("controller", str, S.CONTROLLERS, [None]),
    "rtol": ("rtol", float, None, [1e-2]),
    "atol": ("atol", float, None, [1e-4]),
    "output": ("output", str, S.OUTPUTS, [None]),
    "refine": ("refine", int, None, [None]),
    "grid-points": ("grid_points", int, None, [2001]),
    "dt": ("dt", float, None, [0.01]),
    "ode-unfolds": ("ode_unfolds", int, None, [6]),
}
SINGLE_FLAGS: dict[str, tuple[str, type, tuple | None, object]] = {
    "backend": ("backend", str, S.BACKENDS, "auto"),
    "max-steps": ("max_steps", int, None, 200_000),
    "max-seconds": ("max_seconds", float, None, None),
    "lyapunov": ("lyapunov", int, None, 0),
    "device": ("device", str, S.DEVICES, "cpu"),
    "dtype": ("dtype", str, S.DTYPES, "float64"),
    "perturb": ("perturb", int, None, 1),
}
#: what a flag means, where "spec field NAME" does not say it
FLAG_HELP = {
    "input-kind": "exact curve, interpolated samples (authors' code), or off (I ≡ 0)",
    "input-gain": "input amplitude: I = gain·(sin ωt, cos ωt)",
    "input-omega": "input frequency ω (rad per time unit; 1: one revolution per measured period)",
    "transient": "integrate over [0, T + 2π] and measure only [T, T + 2π], the steady orbit "
                 "(lengths, L and l(I) of that period)",
    "lyapunov": "also compute the M largest Lyapunov exponents over the measured period [T, T + 2π] "
                "of the solve from x(0) = 0 (columns lyap, lyap_max; tangent-space integration with QR "
                "every 0.1 and the analytic Jacobian, DOP853 rtol 1e-8: trajlen.lyapunov); 0: none",
    "perturb": "solve each network N more times with every parameter × (1 + 1e-15·ε) and record "
               "length_spread, L_spread ((max − min)/median over the N + 1 solves); default 1, "
               "so every summary says whether its lengths are reproducible numbers (0: off, "
               "half the work; always off for your own vector field or cell, --module)",
}
#: flags a --params file decides (its network's shape and weights)
PARAMS_EXCLUDE = ("width", "depth", "samples", "sigma-w2", "sigma-b2", "weight-init")
#: and a --module network (its model and everything about it too)
MODULE_EXCLUDE = PARAMS_EXCLUDE + ("model", "activation", "cfc-mode", "backbone-units", "backbone-layers",
                                   "weight-init", "recurrence", "ltc-decay", "ltc-A", "hardtanh")


_NONE_HELP = {
    "activation": " (None: tanh, or the model's own: ltc_ncps sigmoid, cfc lecun_tanh; a model is swept "
                  "only with the activations it takes)",
    "cfc_mode": " (cfc only; None: default)", "backbone_units": " (cfc only; None: 128)",
    "backbone_layers": " (cfc only; None: 1)",
    "ode_unfolds": " (ncps_fused only: fused steps per input step)",
}


def _spec_group(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("spec (several values sweep their product)")
    for flag, (name, typ, choices, default) in SWEEP_FLAGS.items():
        g.add_argument(f"--{flag}", type=cli.type_for(typ), nargs="+", choices=choices, default=default,
                       help=FLAG_HELP.get(flag, f"spec field {name}")
                       + _NONE_HELP.get(name, " (None: from --semantics)" if default == [None] else ""))
    g2 = p.add_argument_group("solver backend and per-solve limits (a solve over a limit is a "
                              "failure row: step_budget, time_limit)")
    for flag, (_, typ, choices, default) in SINGLE_FLAGS.items():
        g2.add_argument(f"--{flag}", type=cli.type_for(typ), choices=choices, default=default,
                        help=FLAG_HELP.get(flag))


def _run_group(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("run")
    r.add_argument("--samples", type=cli.int64, default=10, help="random networks per configuration")
    r.add_argument("--seed", type=cli.int64, default=0, help="root seed")
    r.add_argument("--params", nargs="+", default=None, metavar="FILE",
                   help="run these networks (.npz from trajlen or .mat in the original code's layout) "
                        "instead of drawing random ones: their width, depth and weights are the "
                        "file's, so --width, --depth, --samples, --sigma-* and --weight-init do not "
                        "apply; give --activation (the file does not say)")
    r.add_argument("--module", nargs="+", default=None, metavar="SPEC",
                   help="measure your own network instead of random ones. THIS RUNS CODE: pkg.mod:make "
                        "imports pkg.mod (from sys.path, never the current directory) and calls make() "
                        "with no arguments; path/to/file.py:make executes that file; file.pt unpickles "
                        "a whole torch module (torch.save(module, path)). make() returns a "
                        "torch.nn.Module RNN cell (a trained ncps LTC or CfC, or h' = cell(I, h)), "
                        "trajlen.user.UserODE(f, n) or (f, n) for a vector field f(t, x, I) (scipy "
                        "backend). Rows record the spec and the SHA-256 of its parameters; its "
                        "model, width and activation are the network's, so --model, --width, --depth, "
                        "--activation, --samples, --sigma-* and the CfC flags do not apply")
    r.add_argument("--study", default=None, metavar="FILE",
                   help="a grid file (.toml or .json) with keys grid (spec field -> value or list), "
                        "samples, seed; flags given on the command line override it")
    r.add_argument("--out", default="trajlen-results", help="result store directory")
    r.add_argument("--retry-failed", action="store_true",
                   help="compute this sweep's failed rows again (off: a rerun only adds what is missing)")
    r.add_argument("--max-memory", default=None, metavar="SIZE",
                   help="memory the networks in memory at once may use, e.g. 8G (default: this "
                        "machine's); a sweep that cannot fit is refused before it starts")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    r.add_argument("--dry-run", action="store_true",
                   help="validate every flag and the study file, print how many networks would run "
                        "and the memory one needs, and exit")


def _where_group(p: argparse.ArgumentParser) -> None:
    x = p.add_argument_group(
        "where it runs",
        "Chunks of --chunk-size tasks run in this process (--jobs 1), on local worker processes "
        "(--jobs N), or on a dask cluster (--scheduler). The driver writes every result shard, so "
        "dask workers need trajlen installed but no access to --out (files given to --params must "
        "be readable by the workers at the same path).")
    x.add_argument("--jobs", type=cli.int64, default=-1,
                   help="local worker processes (-1: all cores; 1: in this process; at most the cores)")
    x.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a dask.distributed cluster (the [dask] extra): a scheduler address "
                        "such as tcp://HOST:8786 (start one with 'dask scheduler' and 'dask worker "
                        "tcp://HOST:8786'), or local:N for a LocalCluster of N worker processes "
                        "(local: one per core); instead of --jobs")
    x.add_argument("--connect-timeout", type=cli.finite_float, default=X.CONNECT_TIMEOUT_S,
                   metavar="S", help="seconds to wait for the --scheduler to answer (or a local:N "
                                     "cluster to start) and for its first worker")
    x.add_argument("--stall-timeout", type=cli.finite_float, default=X.STALL_TIMEOUT_S, metavar="S",
                   help="end the sweep (exit status 3, completed shards kept) when for S seconds no "
                        "chunk finished and no worker worked on one (workers lost, frozen, or a "
                        "cluster with no workers; a slow chunk is not a stall); 0: wait forever")
    x.add_argument("--chunk-size", type=cli.int64, default=None,
                   help="tasks per worker chunk and result shard (default: 4 scipy, 64 torch or numba; "
                        "on several local workers: costliest first, smaller towards the end)")
    x.add_argument("--max-retries", type=cli.int64, default=2,
                   help="a task whose worker process dies is run alone this many more times before "
                        "it is recorded as a worker_died failure (dask: the scheduler's own retries, "
                        "distributed.scheduler.allowed-failures, take this role)")


def make_parser(prog: str = "python -m trajlen.sweep") -> argparse.ArgumentParser:
    p = cli.Parser(prog=prog, description=__doc__.split("\n\n")[0], allow_abbrev=False,
                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _spec_group(p)
    _run_group(p)
    _where_group(p)
    return p


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
    if vals["model"] == ["mlp"] and "perturb" not in (given or ()) and "perturb" not in base:
        vals["perturb"] = [0]   # a static network is not solved: the default spread is not asked for
    return vals


def _applies(values: dict[str, list], given: set[str]) -> None:
    """Refuse a flag that cannot apply to anything the sweep runs (it would be silently ignored)."""
    def refuse(flag: str, why: str) -> None:
        raise SpecError(f"--{flag} {why}")

    if "hardtanh" in given:
        if "hardtanh" not in values["activation"]:
            refuse("hardtanh", "applies only to --activation hardtanh (hardtanh_matlab is always MATLAB's "
                               "Htanh)")
    if "ltc-decay" in given or "ltc-A" in given:
        if "ltc" not in values["model"]:
            refuse("ltc-decay" if "ltc-decay" in given else "ltc-A", "applies only to --model ltc")
    models = set(values["model"])
    if {"cfc-mode", "backbone-units", "backbone-layers"} & given and "cfc" not in models:
        refuse(sorted({"cfc-mode", "backbone-units", "backbone-layers"} & given)[0],
               "applies only to --model cfc")
    if "ode-unfolds" in given and "ncps_fused" not in values["method"]:
        refuse("ode-unfolds", "applies only to --method ncps_fused (ncps's unfolding of its LTC)")
    drawn = {"sigma-w2", "sigma-b2", "weight-init", "recurrence", "hardtanh"} & given
    if drawn and models <= set(S.OWN_INIT):
        refuse(sorted(drawn)[0], f"does not apply to --model {' '.join(sorted(models))} (ncps's own "
                                 "initialisation and equations)")
    if models <= set(S.MAP_MODELS) and {"method", "rtol", "atol", "controller", "output"} & given:
        refuse(sorted({"method", "rtol", "atol", "controller", "output"} & given)[0],
               "does not apply to --model cfc (a map over the input samples: no ODE solver runs)")
    if "lyapunov" in given and values["lyapunov"] != [0] and models <= set(S.NO_FLOW):
        refuse("lyapunov", f"needs an ODE's Jacobian; --model {' '.join(sorted(models))} has no vector "
                           "field (a map over the input samples, or static)")
    for flag in ("input-gain", "input-omega"):
        if flag in given and "off" in values["input_kind"]:
            refuse(flag, "with --input-kind off: an input that is off has no gain or frequency "
                         "(sweep the off input separately)")
    if values["model"] == ["mlp"]:
        for flag, why in (("transient", "a static mlp has no transient"),
                          ("perturb", "a static mlp is not solved: nothing to be sensitive in")):
            if flag in given:
                refuse(flag, f"applies only to the continuous-time models ({why})")
    if "grid-points" in given and "grid" not in values["output"]:
        refuse("grid-points", "applies only to --output grid")
    fixed = set(values["method"]) & set(S.FIXED_METHODS)
    if "dt" in given and not fixed:
        refuse("dt", "is the step of the fixed-step methods (euler, rk4, fused); the adaptive ones "
                     "choose their own")
    if "dt" in given and fixed == {"ncps_fused"}:
        refuse("dt", "does not apply to ncps_fused (its step is the input step / --ode-unfolds)")
    if fixed and ({"rtol", "atol", "controller"} & given) and fixed == set(values["method"]):
        refuse(sorted({"rtol", "atol", "controller"} & given)[0],
               "does not apply to the fixed-step methods (they step by --dt)")


def check_args(args: argparse.Namespace, given: set[str]) -> None:
    """Every combination of flags that cannot mean what it says is refused with one line naming it."""
    if args.module:
        clash = [f for f in MODULE_EXCLUDE if f in given] + [f for f in ("params", "study") if f in given]
        if clash:
            raise SpecError(f"--module with --{clash[0]}: the module's network decides its model, shape "
                            "and weights (one row per module and configuration); drop one of them")
    if args.params:
        clash = [f for f in PARAMS_EXCLUDE if f in given]
        if clash:
            raise SpecError(f"--params with --{clash[0]}: the file's network decides its "
                            f"{'shape' if clash[0] in ('width', 'depth') else 'weights'} "
                            "(one row per file); drop one of them")
        if "activation" not in given:
            raise SpecError("--params needs --activation: the file holds weights, not the activation "
                            "they were drawn for")
        if args.study:
            raise SpecError("--params with --study: a study file draws its own networks")
    if not str(args.out).strip():
        raise SpecError("--out must name a directory, got ''")
    if args.scheduler is not None and "jobs" in given:
        raise SpecError("--jobs with --scheduler: the cluster's workers run the chunks; choose one")
    if args.chunk_size is not None:
        check_int("chunk-size", args.chunk_size, 1)
    check_int("max-retries", args.max_retries, 0)
    if args.scheduler is not None:
        X.validate_scheduler(args.scheduler)
    if args.connect_timeout <= 0:
        raise SpecError(f"connect-timeout must be > 0 seconds, got {args.connect_timeout!r}")
    if args.stall_timeout < 0:
        raise SpecError(f"stall-timeout must be >= 0 seconds (0: never), got {args.stall_timeout!r}")


def _dry_run(args, values, samples, limit, workers, given) -> None:
    if args.module:
        tasks = build_module_tasks(values, args.module, args.seed, given)
        check_memory(tasks, workers, limit)
        print(f"{len(tasks)} networks from {len(args.module)} module(s) would run; results to {args.out}")
        return
    n, n_cfg = count_networks(values, samples, args.params)
    for f in args.params or ():
        read_params_checked(f)
    probe = build_tasks(values, 1, 0, args.params[:1] if args.params else None)
    worst = check_memory(probe, workers, limit)
    mem = ""
    if worst is not None:
        big = max(probe, key=lambda t: estimate(t).minimum)
        e = estimate(big)
        mem = (f"; memory per network: at least {format_bytes(e.minimum)}, "
               f"{format_bytes(e.at_budget)} if it used its whole step budget")
    print(f"{n} networks in {n_cfg} configuration(s) would run; results to {args.out}{mem}")


def _print_summary(args, tasks, res) -> None:
    print(f"{len(tasks)} networks ({res.n_computed} computed"
          + (f", {res.n_retried} failed ones again" if res.n_retried else "")
          + f", {res.n_skipped} already there) in {res.wall_s:.1f} s")
    for line in describe_run(res.table):
        print(line)
    print(format_summary(summarize(res.table)))
    for line in paired_comparisons(res.table):
        print(line)
    print(format_failures(res.failures, len(res.table)))
    print(f"store: {args.out} (results.parquet, results.csv)")


def _sweep(args, argv: list[str], given: set[str]):
    study = load_study_file(args.study) if args.study else {}
    values = values_from_args(args, study.get("values"), given)
    samples = args.samples if "samples" in given else study.get("samples", args.samples)
    seed = args.seed if "seed" in given else study.get("seed", args.seed)
    check_samples_seed(samples, seed)
    check_args(args, given)
    if args.module:   # what the flags apply to is the modules' networks
        models = module_models(args.module)
        if "perturb" not in given and set(models) & set(S.USER_MODELS):
            values["perturb"] = [0]   # a Python vector field or cell has no parameters to perturb
        _applies(dict(values, model=models, activation=[None]), given)
    else:
        _applies(values, given)
    workers = 1 if args.scheduler is not None else n_jobs(args.jobs)
    limit = parse_bytes(args.max_memory) if args.max_memory is not None else None
    ResultStore(args.out, SCHEMA_VERSION)  # refuses another schema before any work
    if args.dry_run:
        _dry_run(args, values, samples, limit, workers, given)
        return None, None
    if args.module:
        tasks = build_module_tasks(values, args.module, seed, given)
    else:
        tasks = build_tasks(values, samples, seed, args.params)
    check_memory(tasks, workers, limit)
    res = run_sweep(tasks, args.out, jobs=args.jobs, chunk_size=args.chunk_size,
                    progress=not args.quiet, scheduler=args.scheduler,
                    max_retries=args.max_retries, connect_timeout=args.connect_timeout,
                    stall_timeout=args.stall_timeout, notify=None if args.quiet else cli.note,
                    retry_failed=args.retry_failed, max_memory=limit,
                    command=["python -m trajlen.sweep", *argv])
    return tasks, res


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI. Returns the exit status: 0 done (failure rows included), 2 bad input (one line on
    stderr naming the flag or field; nothing left behind), 3 stalled (``--stall-timeout``: no
    progress; completed shards kept), 130/143 interrupted/terminated (completed shards kept; rerun to
    resume)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a parse error (2, already printed on one line)
        return e.code if isinstance(e.code, int) else cli.EXIT_USAGE
    prog, given = parser.prog, _given_flags(argv)
    existed = _exists(args.out)
    try:
        with cli.one_line_warnings(), cli.clean_signals():
            try:
                tasks, res = _sweep(args, argv, given)
            finally:
                X.release_local_workers()
    except SpecError as e:
        _discard(args.out, existed)
        print(f"{prog}: error: {cli.one_line(e)}", file=sys.stderr)
        return cli.EXIT_USAGE
    except X.Stalled as e:
        print(f"{prog}: stalled: {cli.one_line(e)}; {_kept(args.out)} completed shard(s) kept in "
              f"{args.out}; rerun the same command to resume", file=sys.stderr)
        return cli.EXIT_STALLED
    except KeyboardInterrupt as e:
        what = "terminated" if isinstance(e, cli.Terminated) else "interrupted"
        print(f"{prog}: {what}; {_kept(args.out)} completed shard(s) kept in {args.out}; rerun the same "
              "command to compute only what is missing", file=sys.stderr)
        return cli.EXIT_TERMINATED if what == "terminated" else cli.EXIT_INTERRUPTED
    if res is not None and not args.quiet:
        _print_summary(args, tasks, res)
    return cli.EXIT_OK


def _exists(out: str) -> bool:
    try:
        return Path(out).exists()
    except (OSError, ValueError):
        return False


def _kept(out: str) -> int:
    try:
        return len(ResultStore(out, SCHEMA_VERSION).shards())
    except (SpecError, OSError):
        return 0


def _discard(out: str, existed: bool) -> None:
    """After a refused sweep: remove the store directory if this run created it and wrote no shard
    into it (a user mistake leaves nothing behind)."""
    if existed or not str(out).strip():
        return
    p = Path(out)
    shards = p / "shards"
    if p.is_dir() and not (shards.is_dir() and any(shards.glob("*.parquet"))):
        shutil.rmtree(p, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
