"""``python -m trajlen.bounds`` — check Theorems 4–5 (or a conjectured bound) against a results table."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..spec import SpecError
from .check import check_bound, format_report
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
                "table: ratios measured/bound, violations, and growth exponents in k, σ_w, depth.",
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


def main(argv: Sequence[str] | None = None) -> int:
    from ..results import read_results

    parser = make_parser()
    args = parser.parse_args(argv)
    if args.bound is not _AUTO and args.bound_function is not None:
        parser.error("--bound and --bound-function cannot be used together (--bound takes a "
                     "formula, --bound-function runs a Python function)")
    try:
        df = read_results(args.results if len(args.results) > 1 else args.results[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rep = check_bound(df, str(args.bound), args.variant, args.sigma, args.zero_recurrent,
                              bound_function=args.bound_function)
    except SpecError as e:
        print(f"{parser.prog}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print(format_report(rep))
    if args.csv:
        d = Path(args.csv)
        d.mkdir(parents=True, exist_ok=True)
        rep.per_config.to_csv(d / "per_config.csv", index=False, float_format="%.6g")
        if not rep.fits.empty:
            rep.fits.to_csv(d / "fits.csv", index=False, float_format="%.6g")
        print(f"\ntables: {d / 'per_config.csv'}, {d / 'fits.csv'}")
    if args.plot:
        files = plot_report(rep, args.plot, args.plot_format)
        print("figures: " + (", ".join(map(str, files)) if files else "none (no sweep axis varies)"))
    return 0
