"""What every command line of trajlen shares (``python -m trajlen.sweep``, ``.reproduce``, ``.bounds``,
``python -m trajlen``): one-line errors with exit status 2, the exit statuses, warnings on one line,
SIGTERM as a clean stop. No pipeline stage imports this module."""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import warnings
from collections.abc import Callable, Iterator

__all__ = ["Parser", "finite_float", "int64", "one_line", "note", "show_warning", "one_line_warnings",
           "clean_signals",
           "Terminated", "EXIT_OK", "EXIT_USAGE", "EXIT_STALLED", "EXIT_INTERRUPTED", "EXIT_TERMINATED"]

EXIT_OK = 0
#: a user mistake: one line on stderr naming the flag, nothing left behind
EXIT_USAGE = 2
#: ``--stall-timeout``: no progress; completed shards kept
EXIT_STALLED = 3
#: Ctrl-C and SIGTERM (128 + the signal, as shells report them); completed shards kept
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

INT64_MAX = 2 ** 63 - 1


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2, never a usage dump or a traceback."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def finite_float(text: str) -> float:
    """argparse type: a float that is not NaN or ±inf (argparse's float accepts 'nan', 'inf')."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return v


def int64(text: str) -> int:
    """argparse type: an integer that fits a result table's int64 column."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if abs(v) > INT64_MAX:
        raise argparse.ArgumentTypeError(f"must fit in 64 bits (|n| <= 2**63 - 1), got {text}")
    return v


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def note(message: str) -> None:
    """A one-line message for the user, on stderr."""
    print(message, file=sys.stderr, flush=True)


def show_warning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` that prints ``warning: <one line>`` (no source line, no path)."""
    print(f"warning: {one_line(message)}", file=sys.stderr if file is None else file)


#: the ``-W`` filter child processes get: loky's resource tracker, at shutdown after a worker was
#: SIGKILLed holding a lock, warns of the "leaked" semaphore it then unlinks, as a raw multi-line
#: ``UserWarning`` in its own process. The death itself is already reported on one line.
TRACKER_FILTER = "ignore:resource_tracker:UserWarning"


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Warnings as ``warning: <one line>`` in this process, and loky's resource-tracker noise kept
    out of the child processes' stderr (:data:`TRACKER_FILTER`, passed on through
    ``sys.warnoptions``, which child interpreters inherit as ``-W``); both restored afterwards."""
    opts = sys.warnoptions[:]
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        if TRACKER_FILTER not in sys.warnoptions:
            sys.warnoptions.append(TRACKER_FILTER)
        try:
            yield
        finally:
            sys.warnoptions[:] = opts


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: a clean stop."""


@contextlib.contextmanager
def clean_signals() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C (a clean stop keeping completed shards); restored afterwards."""
    def on_term(signum, frame):
        raise Terminated()

    try:
        old = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def type_for(typ: type) -> Callable:
    """The argparse type for a spec field's Python type."""
    return finite_float if typ is float else (int64 if typ is int else typ)
