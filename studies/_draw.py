"""Shared drawing steps of the studies: results rows → the committed tables → figures.

A study's ``draw(rows, outdir, semantics)`` writes, under ``outdir``:

* ``<study>_<semantics>.csv`` — one row per network (and per layer for multi-layer studies), with the
  PCA length and the full-space length (:func:`studies._tables.sample_table`);
* ``<study>_<semantics>_summary.csv`` — per configuration: n, failures, mean, std, median with its
  95 % interval, quartiles of both lengths and of L — the numbers REPRODUCTION.md quotes;
* ``<study>_<semantics>_paired.csv`` — LTC/N-ODE, LTC/CT-RNN, CT-RNN/N-ODE on the same networks;
* ``<study>_<semantics>_growth.csv`` (per-layer studies) or ``_trend.csv`` (width, σ_w²): growth per
  layer, or the exponent along the axis, with intervals;
* ``<study>_<semantics>.png`` / ``.pdf`` — the figure, drawn by :mod:`trajlen.plotting` from the
  tables only, its caption stating semantics, n and the configuration.

Latent-curve figures (paper Fig. 2) need the trajectory itself, which the results table does not
hold: :func:`trajectory_of` re-solves the chosen network from its row's spec (same seed, same sample,
same solver), and the curve points go to ``<study>_<semantics>_curves.csv`` before drawing; the
lengths of all networks are drawn beside them as ``<study>_<semantics>_lengths.png``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from trajlen import plotting
from trajlen.measures import arc_length, pca_project
from trajlen.models import ODE_MODELS
from trajlen.pipeline import Task, trajectory_for
from trajlen.spec import InputSpec, NetworkSpec, SolverSpec
from trajlen.trajectory import Trajectory

from ._tables import growth_table, paired_table, sample_table, summary_table, trend_table

__all__ = ["sample_table", "summary_table", "boxes", "latent", "trajectory_of", "task_of", "stem",
           "caption", "write_tables", "summary_files", "SEMANTICS_TEXT"]

MAX_CURVE_POINTS = 3000
#: What each semantics means for the weights; the step rules are added from the rows' own controller.
_WEIGHTS_TEXT = {
    "reference": "reference semantics (the authors' code: weight std = the σ_w² label, no 1/k",
    "paper": "paper semantics (the paper's text: weights N(0, σ_w²/k)",
}
_RULES_TEXT = {"matlab": "ode45 step rules", "scipy": "scipy step rules"}
#: Each semantics with its own step rules (the caption of a study that keeps them).
SEMANTICS_TEXT = {
    "reference": f"{_WEIGHTS_TEXT['reference']}; {_RULES_TEXT['matlab']})",
    "paper": f"{_WEIGHTS_TEXT['paper']}; {_RULES_TEXT['scipy']})",
}
_AXIS_NAMES = {"width": "width k", "sigma_w2": "σ_w²", "layer": "layer", "depth": "depth"}


def stem(outdir: Path, name: str, semantics: str) -> Path:
    return Path(outdir) / f"{name}_{semantics}"


def _points_text(r: pd.Series) -> str:
    out = r.get("output")
    if out == "refine":
        return f"steps + Refine {int(r['refine'])}"
    if out == "grid":
        return f"{int(r['grid_points'])}-point grid"
    return "solver steps" if out == "steps" else str(out)


def config_text(samples: pd.DataFrame, vary: Sequence[str] = (), per_layer: bool = False) -> str:
    """The constant part of a figure's configuration, in words: activation, k, depth, σ's, solver
    and the points the length is measured on (the columns in ``vary`` are left out)."""
    def one(c):
        v = samples[c].dropna().unique() if c in samples.columns else []
        return v[0] if len(v) == 1 and c not in vary else None

    parts = []
    act = one("activation")
    if act is not None:
        parts.append("Hard-tanh (MATLAB Htanh)" if act == "hardtanh" and one("hardtanh") == "matlab"
                     else plotting.ACTIVATION_NAMES.get(act, act))
    if one("width") is not None:
        parts.append(f"k = {plotting.value_text(one('width'))}")
    d = one("depth")
    if d is not None:
        parts.append(f"the layers of {int(d)}-layer networks" if per_layer else
                     f"{int(d)} layer{'s' if int(d) > 1 else ''}")
    for c, sym in (("sigma_w2", "σ_w²"), ("sigma_b2", "σ_b²")):
        if one(c) is not None:
            parts.append(f"{sym} = {plotting.value_text(one(c))}")
    if set(samples.get("model", [])) == {"mlp"}:   # static: no solver; the points are the grid's
        if one("grid_points") is not None:
            parts.append(f"length on {int(one('grid_points'))} circle points")
        return ", ".join(parts)
    if one("method") is not None and one("rtol") is not None:
        parts.append(f"{one('method')} rtol {one('rtol'):g}")
    if "output" in samples.columns and samples["output"].nunique() == 1:
        parts.append("length on " + _points_text(samples.iloc[0]))
    return ", ".join(parts)


def caption(title: str, samples: pd.DataFrame, semantics: str, vary: Sequence[str] = (),
            per_layer: bool = False, unit: str = "box") -> list[str]:
    """Three caption lines: the title; the semantics; the configuration and n per ``unit``."""
    by = [c for c in ["model", *vary] if c in samples.columns]
    counts = samples.groupby(by).size() if by else pd.Series([len(samples)])
    n = int(counts.max())
    nets = samples[samples["layer"] == samples["layer"].min()] if "layer" in samples.columns \
        else samples   # a per-layer table lists each network once per layer
    failed = int((nets["status"] != "ok").sum()) if "status" in nets.columns else 0
    fail = f" ({failed} of {len(nets)} solves failed, left out)" if failed else ""
    sem = SEMANTICS_TEXT.get(semantics, semantics)
    rules = set(samples["controller"]) if "controller" in samples.columns else set()
    own = {"matlab" if semantics == "reference" else "scipy"}
    if semantics in _WEIGHTS_TEXT and rules and rules != own:
        # the runs' own step rules where they are not the semantics' (Fig 3A's scipy solvers, the
        # ablation's switch to scipy's rules)
        sem = (f"{_WEIGHTS_TEXT[semantics]}; "
               + " / ".join(_RULES_TEXT.get(r, r) for r in sorted(rules)) + " (this study's))")
    if set(samples.get("model", [])) == {"mlp"}:
        sem = sem.split(";")[0] + ("; true clip)" if semantics == "paper" else ")")
    return [title, sem,
            f"{config_text(samples, vary, per_layer)}; n = {n} networks per {unit}{fail}"]


def write_tables(samples: pd.DataFrame, s: Path, by: Sequence[str], *, per_layer: bool = False,
                 trend_x: str | None = None) -> list[Path]:
    """The per-network table, the summary, the paired model ratios and — for a per-layer study — the
    growth per layer, or — for a numeric axis ``trend_x`` — the exponent along it."""
    files = [plotting.write_table(samples, s.with_suffix(".csv")),
             plotting.write_table(summary_table(samples, by), Path(f"{s}_summary.csv"))]
    paired = paired_table(samples, by)
    if not paired.empty:
        files.append(plotting.write_table(paired, Path(f"{s}_paired.csv")))
    others = [c for c in by if c != "layer"]
    if per_layer and samples["layer"].nunique() > 1:
        files.append(plotting.write_table(growth_table(samples, others), Path(f"{s}_growth.csv")))
    if trend_x is not None and samples[trend_x].nunique() > 2:
        rest = [c for c in others if c != trend_x]
        files.append(plotting.write_table(trend_table(samples, trend_x, rest), Path(f"{s}_trend.csv")))
    return files


def summary_files(rows: pd.DataFrame, s: Path, by: Sequence[str], semantics: str,
                  markdown: Callable[[pd.DataFrame, str], str]) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                      list[Path]]:
    """The per-network table, its summary over ``by`` and the summary's markdown ``<s>.md``
    (``markdown(summary, semantics)``), written; returns ``(samples, summary, files)``."""
    samples = sample_table(rows)
    summary = summary_table(samples, by)
    files = [plotting.write_table(samples, s.with_suffix(".csv")),
             plotting.write_table(summary, Path(f"{s}_summary.csv"))]
    md = Path(f"{s}.md")
    md.write_text(markdown(summary, semantics))
    return samples, summary, [*files, md]


def _length_axes(samples: pd.DataFrame, x: str, xlabel: str, *, numeric: bool, logx: bool,
                 explained: bool, facet: str | None):
    """The box-plot figure of the lengths against ``x``; returns (figure, axes)."""
    facets = sorted(samples[facet].unique()) if facet else [None]
    nrows = 2 if explained else 1
    fig, axes = plotting.plt.subplots(nrows, len(facets), figsize=(5.2 * len(facets), 3.1 * nrows),
                                      squeeze=False, gridspec_kw={"height_ratios": [2, 1][:nrows]})
    order = sorted(samples[x].unique())
    for j, f in enumerate(facets):
        d = samples if f is None else samples[samples[facet] == f]
        last = j == len(facets) - 1
        plotting.box_panel(axes[0, j], d, x, xlabel=xlabel, order=order, numeric=numeric,
                           logx=logx, legend=last)
        if f is not None:
            axes[0, j].set_title(f"{facet} = {plotting.value_text(f)}", fontsize="small")
        if explained:
            plotting.bars_explained(axes[1, j], d, x, order=order, legend=last, logx=numeric and logx)
            if numeric and logx:
                axes[1, j].set_xlim(axes[0, j].get_xlim())
            axes[1, j].set_xlabel(xlabel)
    return fig, axes


def boxes(name: str, x: str, xlabel: str, *, per_layer: bool = False, explained: bool = False,
          facet: str | None = None, title: str = "", numeric: bool = False, logx: bool = False,
          derive: Mapping[str, Callable[[pd.DataFrame], pd.Series]] | None = None) -> Callable:
    """A draw function: box plots of the length over samples against ``x`` per model (paper Fig. 3
    style), optionally faceted by ``facet`` and with the PCA variance-explained bars underneath
    (Fig. 3B). ``numeric``/``logx``: ``x`` on a numeric (log) axis; ``derive``: extra columns of the
    per-network table computed from it (e.g. the input step from the sample count)."""

    def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
        s = stem(outdir, name, semantics)
        samples = sample_table(rows, per_layer=per_layer)
        for col, f in (derive or {}).items():
            samples[col] = f(samples)
        by = ["model", x] + ([facet] if facet else [])
        trend = x if numeric and x != "layer" else None
        files = write_tables(samples, s, by, per_layer=per_layer, trend_x=trend)
        plotting.style()
        fig, _ = _length_axes(samples, x, xlabel, numeric=numeric, logx=logx, explained=explained,
                              facet=facet)
        vary = [x] + ([facet] if facet else [])
        plotting.suptitle(fig, caption(title or name, samples, semantics, vary, per_layer))
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


def _curves(rows: pd.DataFrame, col: str, sample: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Network ``sample``'s PC1–PC2 curve per model and value of ``col`` (re-solved), and the panel
    titles' data (model, activation, k, σ_w², layer, length)."""
    chosen = rows[(rows["sample"] == sample) & (rows["status"] == "ok")]
    curves, titles = [], []
    for _, r in chosen.sort_values(["model", *([] if col == "layer" else [col])]).iterrows():
        task = task_of(r)
        traj = trajectory_of(task)
        layers = range(task.net.depth) if col == "layer" else [task.net.depth - 1]
        for layer in layers:
            z, _ = pca_project(traj.layer(layer, task.net.width))
            value = layer + 1 if col == "layer" else r[col]
            titles.append({"model": r["model"], col: value, "sample": sample, "length": arc_length(z),
                           "length_in_table": float(r["lengths"][layer]),
                           "activation": r["activation"], "width": r["width"],
                           "sigma_w2": r["sigma_w2"], "layer": layer + 1, "depth": task.net.depth})
            # the title's length uses every point; the stored curve keeps <= MAX_CURVE_POINTS of
            # them (enough to draw, and the committed CSV stays small)
            keep = np.unique(np.r_[np.arange(0, len(z), -(-len(z) // MAX_CURVE_POINTS)), len(z) - 1])
            curves.append(pd.DataFrame({"model": r["model"], col: value, "t": traj.t[keep],
                                        "z1": z[keep, 0], "z2": z[keep, 1]}))
    cols = ["model", col, "t", "z1", "z2"]
    curves_df = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=cols)
    tcols = ["model", col, "sample", "length", "length_in_table", "activation", "width", "sigma_w2",
             "layer", "depth"]
    titles_df = pd.DataFrame(titles, columns=list(dict.fromkeys(tcols)))
    return curves_df, titles_df


def latent(name: str, col: str, col_label: str, *, per_layer: bool = False, sample: int = 0,
           title: str = "", logx: bool = False) -> Callable:
    """A draw function for paper Fig. 2: PC1–PC2 curves of network ``sample`` per model and per value
    of ``col`` (a grid field, or ``"layer"`` for the layers of one deep network), the length in each
    panel's title; plus the box plots of all networks' lengths against ``col``
    (``<stem>_lengths.png``, numeric axis, log with ``logx``)."""

    def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
        s = stem(outdir, name, semantics)
        samples = sample_table(rows, per_layer=per_layer)
        by = ["model", col]
        files = write_tables(samples, s, by, per_layer=per_layer,
                             trend_x=None if col == "layer" else col)
        curves_df, titles_df = _curves(rows, col, sample)
        files.append(plotting.write_table(curves_df, Path(f"{s}_curves.csv")))
        files.append(plotting.write_table(titles_df, Path(f"{s}_curve_lengths.csv")))
        plotting.style()
        vary = [col]
        head = title or name
        if not curves_df.empty:
            fig = plotting.latent_grid(curves_df, col, titles_df)
            n = int(samples.groupby(by).size().max())
            lines = caption(f"{head}: PC1–PC2 latent curves of network {sample} (of {n}; black dot: "
                            "t = 0)", samples, semantics, vary, per_layer,
                            unit="configuration, in the tables")
            plotting.suptitle(fig, lines)
            fig.tight_layout(h_pad=0.6, w_pad=0.4)
            files += plotting.save(fig, s)
        xlabel = _AXIS_NAMES.get(col, col_label)
        if col == "sigma_w2" and semantics == "reference":
            xlabel = "σ_w² label (the reference semantics use it as the weights' std)"
        fig, _ = _length_axes(samples, col, xlabel, numeric=True, logx=logx, explained=False,
                              facet=None)
        plotting.suptitle(fig, caption(f"{head}: length of every network", samples, semantics, vary,
                                       per_layer))
        fig.tight_layout()
        return files + plotting.save(fig, Path(f"{s}_lengths"))

    return draw
