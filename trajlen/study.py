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

    def grid_for(self, quick: bool) -> dict[str, list]:
        g = {k: list(v) for k, v in self.grid.items()}
        if quick:
            g.update({k: list(v) for k, v in self.quick_grid.items()})
        return g
