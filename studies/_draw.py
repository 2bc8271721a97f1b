"""Shared drawing steps of the studies: results rows → the committed tables → figures.

A study's ``draw(rows, outdir, semantics)`` writes, under ``outdir``:

* ``<study>_<semantics>.csv`` — one row per network (and per layer for multi-layer studies): the
  table the figure is drawn from;
* ``<study>_<semantics>_summary.csv`` — per configuration: n (samples used), failures, mean, std,
  median and quartiles of the length and of L — the numbers REPRODUCTION.md quotes;
* ``<study>_<semantics>.png`` / ``.pdf`` — the figure, drawn by :mod:`trajlen.plotting` from the
  tables only.

Latent-curve figures (paper Fig. 2) need the trajectory itself, which the results table does not
hold: :func:`trajectory_of` re-solves the chosen network from its row's spec (same seed, same sample,
same solver), and the curve points go to ``<study>_<semantics>_curves.csv`` before drawing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from trajlen import plotting
from trajlen.measures import arc_length, pca_project
from trajlen.models import ODE_MODELS
from trajlen.pipeline import Task, trajectory_for
from trajlen.spec import InputSpec, NetworkSpec, SolverSpec
from trajlen.trajectory import Trajectory

__all__ = ["sample_table", "summary_table", "boxes", "latent", "trajectory_of", "task_of", "stem"]

#: Columns of the per-network table, in order (spec fields that identify a configuration first).
CONFIG = ["semantics", "model", "activation", "width", "depth", "sigma_w2", "sigma_b2", "weight_init",
          "hardtanh", "recurrence", "ltc_decay", "ltc_A", "input_kind", "n_samples", "backend",
          "method", "controller", "rtol", "atol", "output", "refine", "grid_points"]
MAX_CURVE_POINTS = 3000
MEASURES = ["sample", "status", "layer", "length", "L", "var_pc1", "var_pc2", "n_accepted",
            "n_rejected", "nfev", "n_points"]


def stem(outdir: Path, name: str, semantics: str) -> Path:
    return Path(outdir) / f"{name}_{semantics}"


def sample_table(rows: pd.DataFrame, per_layer: bool = False, extra: Sequence[str] = ()) -> pd.DataFrame:
    """One row per network — or per (network, layer) with ``per_layer`` — sorted deterministically."""
    cols = [c for c in CONFIG + list(extra) if c in rows.columns]
    out = []
    for _, r in rows.iterrows():
        base = {c: r[c] for c in cols}
        base.update(sample=int(r["sample"]), status=r["status"], L=r["L"],
                    n_accepted=r["n_accepted"], n_rejected=r["n_rejected"], nfev=r["nfev"],
                    n_points=r["n_points"])
        layers = range(int(r["depth"])) if per_layer else [int(r["depth"]) - 1]
        for layer in layers:
            d = dict(base, layer=layer + 1, length=float(r["lengths"][layer]),
                     var_pc1=float(r["var_pc1_layers"][layer]), var_pc2=float(r["var_pc2_layers"][layer]))
            out.append(d)
    df = pd.DataFrame(out)
    order = [c for c in cols + ["layer", "sample"] if c in df.columns]
    df = df.sort_values(order, kind="stable").reset_index(drop=True)
    return df[[c for c in cols + MEASURES if c in df.columns]]


def summary_table(samples: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per configuration ``by``: n (networks), failures, mean ± std, median and quartiles of length, L."""
    out = []
    for key, g in samples.groupby(list(by), sort=True, dropna=False):
        ok = g[g["status"] == "ok"]
        rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        rec["n"] = len(g)
        rec["n_failed"] = int((g["status"] != "ok").sum())
        rec["failures"] = "; ".join(f"{k}: {v}" for k, v in g.loc[g["status"] != "ok", "status"]
                                    .value_counts().sort_index().items()) or ""
        for col in ("length", "L"):
            v = ok[col].astype(float).to_numpy()
            v = v[np.isfinite(v)]
            if len(v):
                q1, med, q3 = np.percentile(v, [25, 50, 75])
                rec.update({f"{col}_mean": v.mean(), f"{col}_std": v.std(ddof=1) if len(v) > 1 else np.nan,
                            f"{col}_median": med, f"{col}_q1": q1, f"{col}_q3": q3,
                            f"{col}_min": v.min(), f"{col}_max": v.max()})
        v1 = ok["var_pc1"].astype(float)
        rec["var_pc12_mean"] = float((v1 + ok["var_pc2"].astype(float)).mean()) if len(ok) else np.nan
        out.append(rec)
    return pd.DataFrame(out)


def _varying(samples: pd.DataFrame, candidates: Sequence[str]) -> list[str]:
    return [c for c in candidates if c in samples.columns and samples[c].astype(str).nunique() > 1]


def boxes(name: str, x: str, xlabel: str, *, per_layer: bool = False, explained: bool = False,
          y: str = "length", ylabel: str = "trajectory length", facet: str | None = None,
          title: str = "") -> Callable:
    """A draw function: box plots of ``y`` over samples against ``x`` per model (paper Fig. 3 style),
    optionally faceted by ``facet`` and with the PCA variance-explained bars underneath (Fig. 3B)."""

    def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
        s = stem(outdir, name, semantics)
        samples = sample_table(rows, per_layer=per_layer)
        by = ["model", x] + ([facet] if facet else [])
        files = [plotting.write_table(samples, s.with_suffix(".csv")),
                 plotting.write_table(summary_table(samples, by), Path(f"{s}_summary.csv"))]
        plotting.style()
        facets = sorted(samples[facet].unique()) if facet else [None]
        nrows = 2 if explained else 1
        fig, axes = plotting.plt.subplots(nrows, len(facets), figsize=(4.2 * len(facets), 3.0 * nrows),
                                          squeeze=False, gridspec_kw={"height_ratios": [2, 1][:nrows]})
        order = sorted(samples[x].unique())
        for j, f in enumerate(facets):
            d = samples if f is None else samples[samples[facet] == f]
            plotting.box_panel(axes[0, j], d, x, y=y, xlabel=xlabel, ylabel=ylabel, order=order)
            n = int(d.groupby(["model", x]).size().max())
            axes[0, j].set_title((f"{facet} = {f}, " if f is not None else "") + f"{title} "
                                 f"[{semantics}, n = {n}]".strip(), fontsize="small")
            if explained:
                plotting.bars_explained(axes[1, j], d, x, order=order)
        fig.tight_layout()
        return files + plotting.save(fig, s)

    return draw


def task_of(row: pd.Series) -> Task:
    """The task that produced a results row (its specs are in ``spec_json``)."""
    spec = json.loads(row["spec_json"])
    return Task(NetworkSpec.from_dict(spec["network"]), InputSpec.from_dict(spec["input"]),
                SolverSpec.from_dict(spec["solver"]), int(row["seed"]), int(row["sample"]))


def trajectory_of(task: Task) -> Trajectory:
    """Re-solve one task on the backend it ran on (so the points are the ones its length was measured on)."""
    if task.solver.backend == "torch" and task.net.model in ODE_MODELS:
        from trajlen.solve.batch import solve_batched

        return solve_batched([(task.net, task.params())], task.inp, task.solver)[0]
    return trajectory_for(task)


def latent(name: str, col: str, col_label: str, *, per_layer: bool = False, sample: int = 0) -> Callable:
    """A draw function for paper Fig. 2: PC1–PC2 curves of network ``sample`` per model and per value
    of ``col`` (a grid field, or ``"layer"`` for the layers of one deep network), the length in each
    panel's title; plus the box-plot summary of all samples in the table."""

    def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
        s = stem(outdir, name, semantics)
        samples = sample_table(rows, per_layer=per_layer)
        by = ["model", col]
        files = [plotting.write_table(samples, s.with_suffix(".csv")),
                 plotting.write_table(summary_table(samples, by), Path(f"{s}_summary.csv"))]
        chosen = rows[(rows["sample"] == sample) & (rows["status"] == "ok")]
        curves, titles = [], []
        for _, r in chosen.sort_values(["model", *([] if col == "layer" else [col])]).iterrows():
            task = task_of(r)
            traj = trajectory_of(task)
            layers = range(task.net.depth) if col == "layer" else [task.net.depth - 1]
            for layer in layers:
                z, _ = pca_project(traj.layer(layer, task.net.width))
                value = layer + 1 if col == "layer" else r[col]
                length = arc_length(z)
                titles.append({"model": r["model"], col: value, "sample": sample, "length": length,
                               "length_in_table": float(r["lengths"][layer])})
                # the title's length uses every point; the stored curve keeps <= MAX_CURVE_POINTS of
                # them (enough to draw, and the committed CSV stays small)
                keep = np.unique(np.r_[np.arange(0, len(z), -(-len(z) // MAX_CURVE_POINTS)), len(z) - 1])
                curves.append(pd.DataFrame({"model": r["model"], col: value, "t": traj.t[keep],
                                            "z1": z[keep, 0], "z2": z[keep, 1]}))
        curves_df = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
            columns=["model", col, "t", "z1", "z2"])
        titles_df = pd.DataFrame(titles, columns=["model", col, "sample", "length", "length_in_table"])
        files.append(plotting.write_table(curves_df, Path(f"{s}_curves.csv")))
        files.append(plotting.write_table(titles_df, Path(f"{s}_curve_lengths.csv")))
        plotting.style()
        if not curves_df.empty:
            fig = plotting.latent_grid(curves_df, col, col_label, titles_df)
            n = int(samples.groupby(by).size().max())
            fig.suptitle(f"{name} [{semantics}]: network {sample} of {n}; lengths on the solver's "
                         f"output points ({rows['output'].iloc[0]})", fontsize="small")
            fig.tight_layout()
            files += plotting.save(fig, s)
        return files

    return draw
