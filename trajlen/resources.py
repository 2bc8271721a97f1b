"""Pipeline stage 5½ — what a task needs before it runs: an estimate of its memory, checked against
the machine, so that a width of 2·10⁵ or a grid of 10⁸ points is refused with one line instead of
becoming MemoryError rows after minutes of work.

The estimate of one network (all float64):

* parameters: ``W, E, W_r, E_r`` (4 · depth · k² values) held by the parameters, again by the
  stacked vector field, and the compiled kernel's packed copies of ``W, W_r`` — 10 · depth · k² · 8
  bytes (the torch executor holds its batch's share the same way);
* output: the points the measures see, ``T · N`` values with N = depth · k — a grid's
  ``grid_points``; the solver's steps (``refine`` points per step with Refine) between at least ten
  steps (MATLAB's MaxStep = span/10 makes ten the minimum under its rules; scipy's rarely take fewer)
  and the step budget ``max_steps``;
* measuring one layer: its states gathered, centred and projected — 3 · T · k · 8 bytes.

``minimum`` is what a network needs however few steps it takes; ``at_budget`` what it would need if
it used its whole step budget. A sweep is refused when ``minimum`` × (networks in memory at once)
exceeds the limit: all of this machine's memory unless ``--max-memory`` says otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from .pipeline import Task
from .spec import SpecError

__all__ = ["Estimate", "estimate", "machine_memory", "check_memory", "format_bytes", "parse_bytes"]

MIN_STEPS = 10
_F8 = 8


@dataclass(frozen=True)
class Estimate:
    """Bytes one network needs: ``minimum`` (however few steps) and ``at_budget`` (all of
    ``max_steps``), with the parts of the minimum."""

    minimum: int
    at_budget: int
    params: int
    output: int


def _points(task: Task, steps: int) -> int:
    sol = task.solver
    if sol.output == "grid" and not sol.fixed_step:
        return sol.grid_points
    per = sol.refine if sol.output == "refine" and not sol.fixed_step else 1
    return per * steps + 1


def estimate(task: Task) -> Estimate:
    """The memory one task needs (module docstring)."""
    n, k = task.net.depth, task.net.width
    params = 10 * n * k * k * _F8
    if task.net.model == "mlp":
        return Estimate(params + 4 * task.solver.grid_points * n * k * _F8, params, params, 0)
    if task.net.model == "cfc":   # a map: its backbone and heads, and one state per input sample
        units = task.net.backbone_units
        params = 2 * (units * (2 + k) + units * units * max(task.net.backbone_layers - 1, 0)
                      + 4 * units * k + 2 * k) * _F8
        out = task.inp.n_samples * k * _F8
        return Estimate(params + 4 * out, params + 4 * out, params, out)
    N = n * k
    steps_min = MIN_STEPS
    if task.solver.fixed_step:
        steps_min = min(task.solver.max_steps, int(task.inp.t_end / task.solver.dt) + 1)
    lo, hi = _points(task, steps_min), _points(task, max(task.solver.max_steps, steps_min))
    out_lo, out_hi = lo * N * _F8, hi * N * _F8
    return Estimate(params + out_lo + 3 * lo * k * _F8, params + out_hi + 3 * hi * k * _F8, params,
                    out_lo)


def machine_memory() -> int:
    """This machine's physical memory in bytes."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 1 << 62


def format_bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(b) < 1024 or unit == "PiB":
            return f"{b:.3g} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return f"{b:.3g} PiB"


def parse_bytes(text: str) -> int:
    """``--max-memory``: a number of bytes with an optional unit (K, M, G, T; powers of 1024)."""
    t = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    num = t[:-1] if t[-1:] in "KMGT" and t else t
    try:
        v = float(num) * mult
    except ValueError:
        raise SpecError(f"max-memory must be a size such as 8G or 512M, got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise SpecError(f"max-memory must be a size > 0, got {text!r}")
    return int(v)


def check_memory(tasks: Sequence[Task], at_once: int, limit: int | None = None) -> Estimate | None:
    """Refuse (:class:`SpecError`, one line) a sweep whose largest network needs more than
    ``limit`` (default: :func:`machine_memory`) with ``at_once`` networks in memory together.
    Returns the largest estimate (None without tasks). One estimate per configuration: the samples
    of a configuration need the same."""
    limit = machine_memory() if limit is None else limit
    worst = None
    for t in {(t.net, t.inp, t.solver): t for t in tasks}.values():
        e = estimate(t)
        if worst is None or e.minimum > worst.minimum:
            worst, worst_task = e, t
    if worst is not None and worst.minimum * at_once > limit:
        net, sol = worst_task.net, worst_task.solver
        raise SpecError(
            f"a network of width {net.width}, depth {net.depth} with output {sol.output} needs at least "
            f"{format_bytes(worst.minimum)} (parameters {format_bytes(worst.params)}, output points "
            f"{format_bytes(worst.output)}), × {at_once} at once, and the limit is {format_bytes(limit)}; "
            "shrink the network or the output, use fewer --jobs, or raise --max-memory")
    return worst
