"""Pipeline stage 6¼ — the units a sweep's workers take, heaviest first, so that they finish together.

A network's cost is heavy-tailed. In the deep studies 7 networks of a model's 100 hold 77 % of its
solver steps (BENCHMARKS.md, "Load balance"): the ones with the smallest time constants, whose
explicit steps are limited by stability, so their count grows like ``1/τ_min``. A network's
parameters depend only on (seed, width, depth, sample), so all models of one sample share their τ.
In the sweep's round-robin order (:func:`trajlen.tasks.round_robin`) the costly networks therefore
sit side by side, and a unit cut by count alone gives them all to one worker.

:func:`plan_units` predicts each task's cost (:func:`predicted_cost`). It orders the tasks
heaviest first, the longest-processing-time rule (Graham 1969). It then cuts them into units whose
predicted cost is at most ``1/(UNITS_PER_WORKER · workers)`` of what is still unassigned. That is
guided self-scheduling (Polychronopoulos & Kuck 1987) measured in predicted cost, not in tasks:
a costly network is a unit of its own, cheap ones go together, and units shrink towards the end.

Neither the order nor the cut changes a row. A numba or scipy task is solved alone, whatever unit
it is in, and the store sorts the rows by task id. Torch units are batches and are not cut here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .params import draws_to_tau, tau_min_drawn
from .pipeline import Task
from .tasks import chunks

__all__ = ["UNITS_PER_WORKER", "RATE_FLOOR", "PREDICT_BUDGET", "predicted_cost", "plan_units",
           "balanced_units"]

#: Units per worker the cut aims for (module docstring): the last ones are small enough that a
#: worker holding one never runs long after the others have finished.
UNITS_PER_WORKER = 8
#: 1/time. Below this rate τ no longer sets an explicit solver's steps (accuracy does); the rate
#: of a network whose model has no 1/τ in its leak, or whose τ is not drawn here.
RATE_FLOOR = 100.0
#: Standard normals the prediction may draw (W, b, E and τ of each distinct network; ≈ 0.3 s).
#: A larger sweep falls back to :func:`balanced_units` in the given order.
PREDICT_BUDGET = 30_000_000


def _tau_sets_steps(task: Task) -> bool:
    """Is the task's network drawn here with a 1/τ in its model's leak (``TAU_IN_LEAK``)?"""
    from .models import MODEL_EQUATIONS

    eq = MODEL_EQUATIONS.get(task.net.model)  # only trajlen's own equations; their τ is drawn
    return task.params_file is None and task.module is None and eq is not None and eq.TAU_IN_LEAK


def predicted_cost(task: Task, tau_min: float | None) -> float:
    """A task's relative cost, for ordering only: ``depth · width² · max(1/τ_min, RATE_FLOOR)``
    (``depth · width² · grid_points`` for the static network, which maps that many circle points).

    This is the matrix–vector work of one right-hand side times a step count that is stiffness
    limited. ``tau_min`` is the network's smallest τ (time units), or None when τ does not set its
    steps. Checked on the committed Fig 3D rows: two CT-RNNs with τ_min 4.2e-5 and 1.3e-3 took
    285 487 and 9 175 evaluations, a ratio of 31 for a 1/τ ratio of 31.
    """
    if task.net.model == "mlp":  # static, no solver: its work is the circle points it maps
        return float(task.net.depth * task.net.width ** 2) * task.solver.grid_points
    rate = RATE_FLOOR if tau_min is None else max(1.0 / tau_min, RATE_FLOOR)
    return float(task.net.depth * task.net.width ** 2) * rate


def _costs(tasks: Sequence[Task]) -> list[float] | None:
    """Every task's :func:`predicted_cost`, or None when predicting would draw more than
    :data:`PREDICT_BUDGET` normals."""
    def key(t: Task) -> tuple:  # what τ depends on: the stream (seed_rng) and its scale
        return t.seed, t.net.width, t.net.depth, t.sample, t.net.bias_std

    ranked = [_tau_sets_steps(t) for t in tasks]
    keys = {key(t): t for t, r in zip(tasks, ranked) if r}
    if sum(draws_to_tau(t.net.width, t.net.depth) for t in keys.values()) > PREDICT_BUDGET:
        return None
    tau = {k: tau_min_drawn(t.net, t.seed, t.sample) for k, t in keys.items()}
    return [predicted_cost(t, tau[key(t)] if r else None) for t, r in zip(tasks, ranked)]


def balanced_units(tasks: Sequence[Task], size: int, workers: int) -> list[list[Task]]:
    """Units in the order of ``tasks``, cut by count: each takes ``ceil(R / (UNITS_PER_WORKER ·
    workers))`` of the ``R`` tasks not yet in a unit, at most ``size`` and at least 1 (one worker:
    plain chunks of ``size``). The fallback of :func:`plan_units` when costs are not predicted."""
    if workers <= 1:
        return chunks(tasks, size)
    out, i, n = [], 0, len(tasks)
    while i < n:
        step = max(1, min(size, math.ceil((n - i) / (UNITS_PER_WORKER * workers))))
        out.append(list(tasks[i:i + step]))
        i += step
    return out


def plan_units(tasks: Sequence[Task], size: int, workers: int) -> list[list[Task]]:
    """The units ``workers`` workers take in turn (module docstring). Each unit holds at most ``size``
    tasks. One worker: chunks of ``size`` in the given order (nothing to balance)."""
    if workers <= 1 or not tasks:
        return balanced_units(tasks, size, 1)
    costs = _costs(tasks)
    if costs is None:
        return balanced_units(tasks, size, workers)
    order = sorted(range(len(tasks)), key=lambda i: -costs[i])  # stable: ties keep the given order
    left = sum(costs)
    out: list[list[Task]] = []
    unit: list[Task] = []
    spent = 0.0
    budget = left / (UNITS_PER_WORKER * workers)
    for i in order:
        if unit and (spent + costs[i] > budget or len(unit) == size):
            out.append(unit)
            left -= spent
            unit, spent = [], 0.0
            budget = left / (UNITS_PER_WORKER * workers)
        unit.append(tasks[i])
        spent += costs[i]
    out.append(unit)
    return out
