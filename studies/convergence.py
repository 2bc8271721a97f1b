"""Convergence of the length with the output points (SPEC §2, issue #4 item 4).

The original code measures the length on the solver's own output points (ode45 steps + Refine 4 at
rtol 1e-2). For the same networks this study also measures it on a uniform grid of the loose solve's
dense output, and on uniform grids of 2001 and 8001 points of a tight solve (RK45 at rtol 1e-10,
atol 1e-12, on the numba kernel; its dense output is 4th order, so the grids carry the tight solve's
accuracy) — the ODE's own trajectory. A length that moves with the sampling is not a property of the
network.

The tight solve is RK45 rather than DOP853 because the stiff LTCs (tiny τ draws) are stability-limited
whatever the order: scipy's DOP853 in Python did not finish them in an hour, the compiled RK45 does in
seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trajlen import plotting
from trajlen.study import Study

from ._draw import sample_table, stem, summary_table

GRIDS = [2001, 8001]
_LOOSE = {"method": "RK45", "rtol": 1e-2, "atol": 1e-4}
TIGHT_RTOL = 1e-10
_TIGHT = {"method": "RK45", "rtol": TIGHT_RTOL, "atol": 1e-12, "output": "grid", "max_steps": 5_000_000}
POINTS = ([{**_LOOSE}, {**_LOOSE, "output": "grid", "grid_points": 2001}]
          + [{**_TIGHT, "grid_points": g} for g in GRIDS])


def setting_of(r: pd.Series) -> str:
    if r["output"] == "grid":
        return f"{r['method']} rtol {r['rtol']:g}, grid {int(r['grid_points'])}"
    return f"{r['method']} rtol {r['rtol']:g}, {r['output']} {int(r['refine'])} ({r['controller']})"


def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
    s = stem(outdir, "convergence", semantics)
    samples = sample_table(rows)
    samples.insert(0, "setting", [setting_of(r) for _, r in samples.iterrows()])
    # converged: the tight solve on its finest grid present (8001 when the study ran to the end)
    tight = samples[samples["rtol"] == TIGHT_RTOL].sort_values("grid_points")
    conv = tight.groupby(["activation", "model", "sample"])["length"].last()
    key = list(zip(samples["activation"], samples["model"], samples["sample"]))
    samples["length_converged"] = [conv.get(k, np.nan) for k in key]
    samples["rel_to_converged"] = samples["length"] / samples["length_converged"] - 1
    summary = summary_table(samples, ["activation", "model", "setting"])
    rel = samples.groupby(["activation", "model", "setting"])["rel_to_converged"]
    summary["rel_to_converged_median"] = rel.median().to_numpy()
    summary["rel_to_converged_maxabs"] = rel.apply(lambda v: np.nanmax(np.abs(v))).to_numpy()
    files = [plotting.write_table(samples, s.with_suffix(".csv")),
             plotting.write_table(summary, Path(f"{s}_summary.csv"))]
    plotting.style()
    acts = [a for a in ("tanh", "sigmoid", "relu", "hardtanh") if a in set(samples["activation"])]
    fig, axes = plotting.plt.subplots(1, len(acts), figsize=(3.6 * len(acts), 3.4), squeeze=False)
    order = sorted(samples["setting"].unique(), key=lambda x: (f"rtol {TIGHT_RTOL:g}" in x, x))
    for j, act in enumerate(acts):
        ax = axes[0, j]
        d = samples[samples["activation"] == act]
        for (m, smp), g in d.groupby(["model", "sample"]):
            g = g.set_index("setting").reindex(order)
            ax.plot(range(len(order)), 100 * g["rel_to_converged"], "o-", ms=3, lw=0.8,
                    color=plotting.PALETTE[plotting.model_name(m)],
                    label=plotting.model_name(m) if smp == d["sample"].min() else None)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xticks(range(len(order)), order, rotation=60, ha="right", fontsize="x-small")
        ax.set_ylabel("length vs converged (%)")
        ax.set_title(f"{plotting.ACTIVATION_NAMES[act]} [{semantics}]", fontsize="small")
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    return files + plotting.save(fig, s)


STUDY = Study(
    name="convergence",
    title="Convergence of the length with the output points (loose ode45 + Refine 4 vs tight grids)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["tanh", "sigmoid", "relu", "hardtanh"],
          "width": [100], "depth": [1]},
    samples=10,
    draw=draw,
    points=POINTS,
    semantics=("reference",),
    quick_samples=1,
    quick_grid={"width": [10], "activation": ["tanh"]},
    notes="Reference semantics (the original code's measure is the question). Both solves run RK45 "
          "with MATLAB's controller on the default backend (numba): the loose one at rtol 1e-2, the "
          "tight one at rtol 1e-10, atol 1e-12.",
)
