"""Paper artifacts as data: a :class:`Study` is a grid, a sample count, the semantics to run it
under, and how to draw it from the results table. Studies live one per file in ``studies/`` and are
listed explicitly in ``studies/__init__.py`` (no registration by import side effect).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Study"]

#: draw(rows of this study under one semantics, output directory, semantics) -> files written
DrawFn = Callable[[pd.DataFrame, Path, str], list[Path]]


@dataclass(frozen=True)
class Study:
    """One paper artifact (or an artifact of our own, e.g. the ablation).

    Attributes
    ----------
    name : CLI name, e.g. ``"table2"``, ``"fig3b"``.
    title : one line for humans.
    grid : spec field → list of values, swept as :func:`trajlen.sweep.build_tasks` sweeps them
        (every field of NetworkSpec/InputSpec/SolverSpec, plus ``input_kind``); ``semantics`` is not
        in the grid — it comes from :attr:`semantics`.
    samples : the paper's sample count (random networks per grid point).
    quick_samples, quick_grid : what ``--quick`` runs instead (grid entries override ``grid``).
    points : explicit grid points, each a dict of spec fields merged over ``grid`` (the product of
        ``grid`` is taken once per point). Empty: the plain product. Lets a study walk a path that is
        not a product, e.g. the ablation's cumulative switches.
    semantics : the semantics the study can be run under.
    draw : function drawing the figure/table files from this study's rows.
    seed : root seed.
    notes : anything a reader must know (e.g. which activation the paper leaves unsaid).
    """

    name: str
    title: str
    grid: Mapping[str, Sequence[Any]]
    samples: int
    draw: DrawFn
    quick_samples: int = 2
    quick_grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    semantics: tuple[str, ...] = ("reference", "paper")
    seed: int = 0
    notes: str = ""
    points: Sequence[Mapping[str, Any]] = ()

    def grid_for(self, quick: bool) -> dict[str, list]:
        g = {k: list(v) for k, v in self.grid.items()}
        if quick:
            g.update({k: list(v) for k, v in self.quick_grid.items()})
        return g

    def tasks(self, semantics: str, samples: int | None = None, quick: bool = False,
              backend: str | None = None) -> list:
        """The tasks of this study under ``semantics`` (one of :attr:`semantics`).

        ``samples`` defaults to :attr:`samples` (:attr:`quick_samples` with ``quick``); ``backend``
        replaces the grid's backend. Invalid values raise :class:`~trajlen.spec.SpecError`.
        """
        from .spec import SpecError
        from .tasks import build_tasks

        if semantics not in self.semantics:
            raise SpecError(f"study {self.name} runs under semantics {', '.join(self.semantics)}, "
                            f"got {semantics!r}")
        if samples is None:
            samples = self.quick_samples if quick else self.samples
        grid = self.grid_for(quick)
        if backend is not None:
            grid["backend"] = [backend]
        grid["semantics"] = [semantics]
        tasks, seen = [], set()
        for point in (self.points or [{}]):
            g = dict(grid)
            g.update({k: [v] for k, v in point.items()})
            for t in build_tasks(g, samples, self.seed):
                if t.task_id not in seen:
                    seen.add(t.task_id)
                    tasks.append(t)
        return tasks
