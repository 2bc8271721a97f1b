"""``python -m trajlen.reproduce`` — regenerate the paper's Section 5 artifacts from scratch.

One command per artifact, or all of them::

    python -m trajlen.reproduce table2                       # Table 2, both semantics, 100 networks
    python -m trajlen.reproduce all --quick                  # every study, tiny grids (CI smoke)
    python -m trajlen.reproduce fig3b --semantics reference --samples 20 --jobs 2

Each study (``studies/``) runs its grid through :func:`trajlen.sweep.run_sweep` into a resumable
store ``RESULTS/<study>/<semantics>/`` (a rerun computes only the missing networks), then draws its
figure, tables and (Table 2) Markdown into ``FIGURES/<study>/``. With ``--quick`` the figures go to
``RESULTS/quick/figures/`` so a smoke run never overwrites the committed ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import cli
from . import spec as S
from .cli import Parser as _Parser
from .driver import run_sweep
from .spec import SpecError

__all__ = ["main", "reproduce", "load_studies"]


def load_studies() -> dict:
    """The studies of ``studies/ALL`` by name (imported here so ``--help`` stays fast)."""
    from studies import ALL

    return {s.name: s for s in ALL}


def make_parser(names: Sequence[str]) -> argparse.ArgumentParser:
    p = _Parser(prog="python -m trajlen.reproduce", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("studies", nargs="+", choices=["all", *names], metavar="STUDY",
                   help=f"'all' or any of: {', '.join(names)}")
    p.add_argument("--semantics", nargs="+", choices=S.SEMANTICS_NAMES, default=None,
                   help="semantics to run (default: every one the study allows)")
    p.add_argument("--samples", default=None, metavar="N|committed",
                   help="networks per grid point (default: the paper's count; --quick: the quick count); "
                        "'committed': the counts the committed figures/ were made with "
                        "(studies.COMMITTED_SAMPLES)")
    p.add_argument("--quick", action="store_true", help="smoke mode: tiny grids and sample counts")
    p.add_argument("--jobs", type=int, default=-1, help="parallel workers (-1: all cores)")
    p.add_argument("--backend", choices=S.BACKENDS, default=None,
                   help="solver backend for every study (default: each study's own)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per worker (1: on a shared machine more threads thrash; measured "
                        "3-4x slower with 2 threads on 2 busy cores)")
    p.add_argument("--results", default="results", help="root of the result stores")
    p.add_argument("--figures", default=None,
                   help="where figures and tables go (default: figures/; RESULTS/quick/figures with --quick)")
    p.add_argument("--draw-only", action="store_true",
                   help="draw from what the stores already hold; compute nothing")
    p.add_argument("--partial", action="store_true",
                   help="with --draw-only: draw whatever part of the grid the store holds (the tables' "
                        "n columns say how much)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def store_path(results: str | Path, quick: bool, name: str, semantics: str) -> Path:
    """Where a study's rows under one semantics are kept."""
    return Path(results) / ("quick" if quick else "") / name / semantics


def _log_timing(results: Path, rec: dict) -> None:
    path = results / "timings.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    if not new and path.read_text().split("\n", 1)[0] != ",".join(rec):
        # written before a column was added (new columns go last): keep its rows, under the new
        # header, replaced atomically so that an interrupt loses nothing
        import pandas as pd

        from .atomic import atomic_write_bytes

        old = pd.read_csv(path).reindex(columns=list(rec))
        atomic_write_bytes(path, old.to_csv(index=False).encode(), suffix=".csv")
    with open(path, "w" if new else "a") as fh:
        if new:
            fh.write(",".join(rec) + "\n")
        fh.write(",".join(str(v) for v in rec.values()) + "\n")


def reproduce(study, semantics: str, *, samples: int | None = None, quick: bool = False, jobs: int = 1,
              backend: str | None = None, results: str | Path = "results",
              figures: str | Path = "figures", draw_only: bool = False, partial: bool = False,
              progress: bool = True, reuse: Sequence[Path] = ()) -> list[Path]:
    """Run one study under one semantics (resuming its store, copying from the ``reuse`` stores the
    rows they hold of its tasks) and draw it; return the files written."""
    tasks = study.tasks(semantics, samples=samples, quick=quick, backend=backend)
    store = store_path(results, quick, study.name, semantics)
    start = time.perf_counter()
    if draw_only:
        from .results import read_results

        table = read_results(store)
        ids = {t.task_id for t in tasks}
        table = table[table["task_id"].isin(ids)].reset_index(drop=True) if not table.empty else table
        n_computed = n_copied = 0
        if len(table) < len(tasks) and not partial:
            raise SpecError(f"--draw-only: {store} holds {len(table)} of the {len(tasks)} networks of "
                            f"{study.name} ({semantics}); run without --draw-only first "
                            "(or add --partial)")
    else:
        res = run_sweep(tasks, store, jobs=jobs, progress=progress, reuse=reuse,
                        notify=(lambda m: print(m, file=sys.stderr, flush=True)) if progress else None)
        table, n_computed, n_copied = res.table, res.n_computed, res.n_copied
    solve_s = time.perf_counter() - start
    files = study.draw(table, Path(figures) / study.name, semantics)
    wall = time.perf_counter() - start
    backends = "+".join(sorted({t.solver.backend for t in tasks}))
    _log_timing(Path(results), dict(study=study.name, semantics=semantics, quick=int(quick),
                                    networks=len(tasks), computed=n_computed, backend=backends,
                                    jobs=jobs, solve_s=f"{solve_s:.1f}", total_s=f"{wall:.1f}",
                                    finished=time.strftime("%Y-%m-%dT%H:%M:%S"), copied=n_copied))
    if progress:
        copied = f", {n_copied} copied from other studies" if n_copied else ""
        print(f"{study.name} [{semantics}]: {len(tasks)} networks ({n_computed} computed{copied}, "
              f"{backend or backends}) in {wall:.1f} s -> {Path(figures) / study.name}", flush=True)
    return files


def _samples_arg(value: str | None):
    """``--samples``: None (study default), an integer, or ``committed`` → a function of
    (study name, semantics)."""
    if value is None:
        return lambda name, sem: None
    if value == "committed":
        from studies import COMMITTED_SAMPLES

        def committed(name: str, sem: str) -> int | None:
            n = COMMITTED_SAMPLES.get(name)
            return n.get(sem) if isinstance(n, dict) else n

        return committed
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1 or str(n) != value.strip():
        raise SpecError(f"samples must be an integer >= 1 or 'committed', got {value!r}")
    return lambda name, sem: n


def _limit_threads(n: int) -> None:
    """Torch intra-op threads here and in joblib workers (they read the environment at import);
    torch itself is told when its executor is imported (trajlen.solve.batch), never imported here."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["MKL_NUM_THREADS"] = str(n)
    os.environ["TRAJLEN_TORCH_THREADS"] = str(n)


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI: exit status 0 done, 2 a user mistake (one line), 130/143 interrupted/terminated
    (completed shards kept; rerun to resume)."""
    studies = load_studies()
    parser = make_parser(list(studies))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    try:
        with cli.one_line_warnings(), cli.clean_signals():
            _main(args, studies)
    except SpecError as e:
        print(f"{parser.prog}: error: {cli.one_line(e)}", file=sys.stderr)
        return cli.EXIT_USAGE
    except OSError as e:   # e.g. --figures or --results not writable
        print(f"{parser.prog}: error: {e.strerror or e}: {e.filename or ''}", file=sys.stderr)
        return cli.EXIT_USAGE
    except KeyboardInterrupt as e:
        what = "terminated" if isinstance(e, cli.Terminated) else "interrupted"
        print(f"{parser.prog}: {what}; completed shards kept; rerun the same command to resume",
              file=sys.stderr)
        return cli.EXIT_TERMINATED if what == "terminated" else cli.EXIT_INTERRUPTED
    return cli.EXIT_OK


def _main(args, studies) -> None:
    if args.threads < 1:
        raise SpecError(f"threads must be an integer >= 1, got {args.threads}")
    _limit_threads(args.threads)
    per_study = _samples_arg(args.samples)
    if args.partial and not args.draw_only:
        raise SpecError("--partial applies only with --draw-only (it draws an unfinished store; "
                        "without --draw-only the grid is computed in full)")
    if args.jobs < -1 or args.jobs == 0:
        raise SpecError(f"jobs must be -1 (all cores) or an integer >= 1, got {args.jobs}")
    chosen = list(studies.values()) if "all" in args.studies else [
        studies[n] for n in dict.fromkeys(args.studies)]
    plan = []
    for st in chosen:
        sems = [s for s in (args.semantics or st.semantics) if s in st.semantics]
        if not sems:
            if "all" in args.studies:
                continue
            raise SpecError(f"study {st.name} runs under semantics {', '.join(st.semantics)}, "
                            f"got {' '.join(args.semantics)}")
        for sem in sems:  # validate every grid before anything runs
            n = per_study(st.name, sem)
            ids = {t.task_id for t in st.tasks(sem, samples=n, quick=args.quick, backend=args.backend)}
            plan.append((st, sem, n, ids))
    figures = args.figures or (str(Path(args.results) / "quick" / "figures") if args.quick
                               else "figures")
    for st, sem, n, ids in plan:
        # the stores of the other studies of this run that share task ids with this one
        donors = [store_path(args.results, args.quick, o.name, osem) for o, osem, _, oids in plan
                  if (o.name, osem) != (st.name, sem) and not ids.isdisjoint(oids)]
        reproduce(st, sem, samples=n, quick=args.quick, jobs=args.jobs,
                  backend=args.backend, results=args.results, figures=figures,
                  draw_only=args.draw_only, partial=args.partial, progress=not args.quiet,
                  reuse=donors)


if __name__ == "__main__":
    sys.exit(main())
