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


#: (rtol, atol, output, grid_points) of :func:`points_table`: the loose solve and the tight one, each on
#: its own points (steps + Refine 4, as the original code measures) and on uniform grids.
POINT_SETTINGS = [(1e-2, 1e-4, "refine", None), (1e-2, 1e-4, "grid", 2001),
                  (1e-9, 1e-11, "refine", None), (1e-9, 1e-11, "steps", None),
                  (1e-9, 1e-11, "grid", 2001), (1e-9, 1e-11, "grid", 8001),
                  (1e-9, 1e-11, "grid", 32001)]


def points_table(mat_file: str | Path, model: str = "ltc", activation: str = "relu") -> pd.DataFrame:
    """The length of one network of the original code (a ``.mat`` in its layout) on each point set of
    :data:`POINT_SETTINGS`: how far "the length" of one network moves with where it is sampled.

    Reference semantics, RK45 with MATLAB's controller on the default backend. One row per setting:
    rtol, atol, output, grid_points, accepted steps, number of points, ``length`` (the paper's measure:
    PCA fitted to these points), ``length_full_space`` (chord length of the k-dimensional states, no
    PCA) and ``length_finest_grid_basis`` (chord length after projecting these points on the PC1–PC2
    plane of the finest uniform grid) — which separate the two ways the sampling moves the length: the
    chord discretisation, and the PCA plane, which is fitted to the points and so follows their density.
    """
    from trajlen.measures import arc_length, pca_basis, project
    from trajlen.params import import_mat
    from trajlen.pipeline import Task, measure, trajectory_for
    from trajlen.spec import make_specs

    params = import_mat(mat_file)
    out, states = [], []
    for rtol, atol, output, grid in POINT_SETTINGS:
        extra = {"grid_points": grid} if grid else {}
        net, inp, sol = make_specs("reference", model=model, activation=activation, method="RK45",
                                   rtol=rtol, atol=atol, output=output,
                                   max_steps=_TIGHT["max_steps"], **extra)
        task = Task(net, inp, sol)
        tr = trajectory_for(task, params)
        row = measure(task, tr, 0.0)
        out.append({"file": Path(mat_file).name, "model": model, "activation": activation,
                    "rtol": rtol, "atol": atol, "output": sol.output,
                    "refine": sol.refine if sol.output == "refine" else "",
                    "grid_points": grid or "", "backend": sol.backend, "controller": sol.controller,
                    "steps": tr.n_accepted, "points": len(tr.t), "status": row["status"],
                    "length": row["length"], "var_pc1": row["var_pc1"], "var_pc2": row["var_pc2"],
                    "length_full_space": arc_length(tr.x)})
        states.append(tr.x)
    finest = max(range(len(out)), key=lambda i: (out[i]["output"] == "grid", out[i]["points"]))
    mean, V = pca_basis(states[finest])
    for rec, x in zip(out, states):
        rec["length_finest_grid_basis"] = arc_length(project(x, mean, V))
    return pd.DataFrame(out)


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


if __name__ == "__main__":
    # python -m studies.convergence PARAMS.mat [OUT.csv]: the points table of one original-code network
    import sys

    table = points_table(sys.argv[1])
    print(table.to_string(index=False))
    if len(sys.argv) > 2:
        plotting.write_table(table, Path(sys.argv[2]))
