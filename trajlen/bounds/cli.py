"""``python -m trajlen.bounds`` — check Theorems 4–5 (or a conjectured bound) against a results table.

Every user mistake is exit status 2 with one line on stderr, and leaves no file or directory behind:
the output directories are created and probed before anything is computed, the tables and figures are
written before the report is printed, and a failure removes what this run created."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..spec import SpecError
from .check import BoundReport, check_bound, format_report
from .formula import FORMULA_FUNCTIONS
from .plot import plot_report
from .theorems import BOUNDS

__all__ = ["main", "make_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


class _Default(str):
    """The default of --bound: equal to ``"auto"``, but told apart from an explicit ``--bound auto``."""


_AUTO = _Default("auto")


def make_parser(prog: str = "python -m trajlen.bounds") -> argparse.ArgumentParser:
    """The argument parser of ``python -m trajlen.bounds`` (errors: one line, exit 2)."""
    p = _Parser(prog=prog, description="Check Theorems 4–5 (or a conjectured bound) against a results "
                "table: ratios measured/bound, violations, and growth exponents in k, σ_w, depth. "
                "A row whose bound is NaN, ±inf, 0 or negative gets no verdict: it is counted as "
                "'undefined' and left out of violations, ratios and fits.",
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("results", nargs="+", help="result store directory(ies) or .parquet/.csv files")
    p.add_argument("--bound", default=_AUTO,
                   help=f"'auto' (per model, from --variant), a registered bound "
                        f"({', '.join(BOUNDS)}), or a formula over column names with + - * / ** and "
                        f"{', '.join(sorted(FORMULA_FUNCTIONS))} — data only, never runs code")
    p.add_argument("--bound-function", metavar="PKG.MOD:FN", default=None,
                   help="RUNS PYTHON CODE: import module PKG.MOD (from sys.path, never from the "
                        "current directory) or execute the file path/to/file.py, and call FN with the "
                        "columns its parameters name; instead of --bound")
    p.add_argument("--variant", choices=("paper", "code"), default="paper",
                   help="which family --bound auto uses: the paper's Eqs. 7–9 or the authors' "
                        "commented MATLAB bounds")
    p.add_argument("--sigma", choices=("theorem", "label"), default="theorem",
                   help="σ_w, σ_b of the draws actually made, or sqrt of the figure labels")
    p.add_argument("--zero-recurrent", action="store_true",
                   help="check only rows whose recurrent weights were zero (required by the authors' "
                        "code for its variant; sweep with --recurrence none)")
    p.add_argument("--plot", metavar="DIR", default=None, help="write measured-vs-bound figures here")
    p.add_argument("--plot-format", choices=("png", "pdf"), default="png")
    p.add_argument("--csv", metavar="DIR", default=None,
                   help="write per_config.csv (and fits.csv when a sweep axis varies) here")
    return p


class _OutputError(Exception):
    """An output directory or file that cannot be written (one line, exit 2)."""


_OUR_FILES = {"per_config.csv", "fits.csv", ".per_config.csv.tmp", ".fits.csv.tmp"}


class _Outputs:
    """The output directories of one run: created and probed up front; on failure, everything this
    run created in them (files, then the directories themselves) is removed again."""

    def __init__(self) -> None:
        self.created: list[Path] = []              # directories this run made, parents first
        self.before: dict[Path, set[str]] = {}     # what each output directory held beforehand

    def prepare(self, flag: str, path: str) -> Path:
        if not path.strip():
            raise _OutputError(f"{flag}: the directory name is empty")
        try:
            d = Path(path).expanduser()
            missing = [q for q in [d, *d.parents] if not q.exists()]
            if d.exists() and not d.is_dir():
                raise _OutputError(f"{flag} {path!r}: exists and is not a directory")
            for q in reversed(missing):
                q.mkdir()
                self.created.append(q)
            self.before.setdefault(d.resolve(), set(os.listdir(d)))
            with tempfile.TemporaryFile(dir=d, prefix=".trajlen-probe-"):
                pass  # can we create a file there? (mode bits lie on read-only mounts and for root)
        except (OSError, ValueError) as e:
            raise _OutputError(f"{flag} {path!r}: cannot write there: "
                               f"{getattr(e, 'strerror', None) or e}") from None
        return d

    def remove(self) -> None:
        for d, names in self.before.items():
            new = set(os.listdir(d)) - names if d.is_dir() else set()
            for name in new:
                if name in _OUR_FILES or name.startswith("bounds_"):  # never a stranger's file
                    try:
                        (d / name).unlink()
                    except OSError:
                        pass
        for q in reversed(self.created):
            try:
                q.rmdir()
            except OSError:
                pass


def _write_tables(rep: BoundReport, d: Path) -> list[Path]:
    tables = [("per_config.csv", rep.per_config)] + ([] if rep.fits.empty else [("fits.csv", rep.fits)])
    written = []
    for name, table in tables:
        tmp = d / f".{name}.tmp"  # then a rename: a failed write never leaves a truncated table
        table.to_csv(tmp, index=False, float_format="%.6g")
        os.replace(tmp, d / name)
        written.append(d / name)
    return written


def _write(args, rep: BoundReport, dirs: dict[str, Path]) -> list[str]:
    lines = []
    for flag, action in (("--csv", lambda d: _write_tables(rep, d)),
                         ("--plot", lambda d: plot_report(rep, d, args.plot_format))):
        if flag not in dirs:
            continue
        try:
            files = action(dirs[flag])
        except OSError as e:
            raise _OutputError(f"{flag} {str(dirs[flag])!r}: cannot write: {e.strerror or e}") \
                from None
        what = "tables" if flag == "--csv" else "figures"
        lines.append(f"{what}: " + (", ".join(map(str, files)) if files
                                   else "none (no sweep axis varies)"))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m trajlen.bounds``; returns the exit status (0, or 2 on any user mistake)."""
    from ..results import read_results

    parser = make_parser()
    args = parser.parse_args(argv)
    if args.bound is not _AUTO and args.bound_function is not None:
        parser.error("--bound and --bound-function cannot be used together (--bound takes a "
                     "formula, --bound-function runs a Python function)")
    outputs = _Outputs()
    try:
        dirs = {flag: outputs.prepare(flag, path) for flag, path in
                (("--csv", args.csv), ("--plot", args.plot)) if path is not None}
        try:
            df = read_results(args.results if len(args.results) > 1 else args.results[0])
        except (OSError, ValueError) as e:  # e.g. a NUL byte or an unreadable directory
            if isinstance(e, SpecError):
                raise
            raise SpecError(f"cannot read the results {args.results}: {e}") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rep = check_bound(df, str(args.bound), args.variant, args.sigma, args.zero_recurrent,
                              bound_function=args.bound_function)
            written = _write(args, rep, dirs)
    except (SpecError, _OutputError) as e:
        outputs.remove()
        msg = " ".join(str(e).split())
        print(f"{parser.prog}: error: {msg}", file=sys.stderr)
        return 2
    print(format_report(rep))
    if written:
        print()
        print("\n".join(written))
    return 0
