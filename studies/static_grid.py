"""Grid convergence of the two lengths — PCA (the paper's) and full-space (mean field's) — on a static
network, where no solver stands between the network and the points.

A deep chaotic hard-tanh network (``model="mlp"``, σ_w² = 16, σ_b² = 1, k = 100, 12 layers, weights
N(0, σ_w²/k): the paper semantics, which mean-field theory assumes) stretches the circle's length by
√χ₁ ≈ 1.81 per layer at large width (Poole et al. 2016; :func:`trajlen.theory.mean_field_lengths`).
Its image folds on ever finer scales, so a chord length on T points undercounts it, and the PCA
length keeps only two of its k directions. This study measures both on uniform grids of 2 001 …
100 001 circle points (the same networks at every grid: parameters depend on the network only) and
writes, per grid:

* ``static_grid_paper_growth.csv`` — the per-layer factor of each network, ``exp`` of the OLS slope of
  log length on layer 1–12 (the same fit as for the mean field), median over networks with its 95 %
  interval, for both lengths; the mean-field factor and √χ₁ beside them;
* ``static_grid_paper_convergence.csv`` — the last layer's length relative to the finest grid's
  (per network, median and interval), for both lengths.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from trajlen import plotting
from trajlen.stats import median_ci
from trajlen.study import Study
from trajlen.theory import mean_field_chi, mean_field_fixed_point, mean_field_lengths

from ._draw import caption, stem
from ._tables import sample_table, summary_table

GRIDS = [2001, 5001, 20001, 100001]
SIGMA_W2, SIGMA_B2, WIDTH, DEPTH = 16.0, 1.0, 100, 12
_MEASURES = {"length": "PCA length (PC1–PC2)", "length_full": "full-space length (k dims)"}


def _factor(layers: np.ndarray, lengths: np.ndarray) -> float:
    ok = np.isfinite(lengths) & (lengths > 0)
    return math.exp(np.polyfit(layers[ok], np.log(lengths[ok]), 1)[0]) if ok.sum() > 1 else math.nan


def growth(samples: pd.DataFrame) -> pd.DataFrame:
    """Per grid and measure: the per-layer factor (median over networks, 95 % interval) beside the
    mean field's (the same fit on :func:`mean_field_lengths`) and √χ₁."""
    ok = samples[samples["status"] == "ok"]
    out = []
    for (grid, width, depth, s2w, s2b), g in ok.groupby(["grid_points", "width", "depth", "sigma_w2",
                                                          "sigma_b2"]):
        layers = np.arange(1, int(depth) + 1, dtype=float)
        mf = _factor(layers, mean_field_lengths(s2w, s2b, int(depth), int(width), "hardtanh"))
        chi1 = mean_field_chi(mean_field_fixed_point(s2w, s2b, "hardtanh"), s2w, "hardtanh")
        for y in _MEASURES:
            f = [_factor(layers, n[y].to_numpy(float)) for _, n in g.sort_values("layer")
                 .groupby("sample")]
            ci = median_ci(f)
            out.append(dict(grid_points=grid, width=width, depth=depth, sigma_w2=s2w, sigma_b2=s2b,
                            measure=y, n=ci.n, factor_median=ci.median, factor_lo=ci.low,
                            factor_hi=ci.high, mean_field_factor=mf, sqrt_chi1=math.sqrt(chi1)))
    return pd.DataFrame(out)


def convergence(samples: pd.DataFrame) -> pd.DataFrame:
    """The last layer's length on each grid over the finest grid's, per network: median, interval."""
    ok = samples[(samples["status"] == "ok") & (samples["layer"] == samples["depth"])]
    finest = ok["grid_points"].max()
    out = []
    for y in _MEASURES:
        wide = ok.pivot_table(index="sample", columns="grid_points", values=y, aggfunc="first")
        for grid in sorted(wide.columns):
            ci = median_ci((wide[grid] / wide[finest]).to_numpy(float))
            out.append(dict(measure=y, layer=int(ok["depth"].iloc[0]), grid_points=grid,
                            finest_grid=finest, n=ci.n, rel_median=ci.median, rel_lo=ci.low,
                            rel_hi=ci.high))
    return pd.DataFrame(out)


def _draw_growth(ax, gr: pd.DataFrame) -> None:
    color = plotting.model_color("mlp")
    for y, ls, mk in (("length_full", "-", "o"), ("length", "--", "s")):
        d = gr[gr["measure"] == y].sort_values("grid_points")
        ax.errorbar(d["grid_points"], d["factor_median"], fmt=ls + mk, ms=4, capsize=2, color=color,
                    yerr=[d["factor_median"] - d["factor_lo"], d["factor_hi"] - d["factor_median"]],
                    label=f"{_MEASURES[y]}, median [95 % CI]")
    ax.axhline(gr["mean_field_factor"].iloc[0], color="k", lw=0.8, ls=":",
               label=f"mean field, same fit ({gr['mean_field_factor'].iloc[0]:.3f})")
    ax.set_xscale("log")
    plotting.numeric_ticks(ax, gr["grid_points"].unique())
    ax.set_xlabel("uniform circle points T")
    ax.set_ylabel(f"length factor per layer (fit, layers 1–{int(gr['depth'].iloc[0])})")


def _draw_layers(ax, samples: pd.DataFrame) -> None:
    ok = samples[samples["status"] == "ok"]
    lo, hi = ok["grid_points"].min(), ok["grid_points"].max()
    color = plotting.model_color("mlp")
    for grid, alpha in ((lo, 0.45), (hi, 1.0)):
        med = ok[ok["grid_points"] == grid].groupby("layer")[list(_MEASURES)].median()
        for y, ls in (("length_full", "-"), ("length", "--")):
            ax.plot(med.index, med[y], ls, color=color, alpha=alpha, marker=".",
                    label=f"{_MEASURES[y].split(' (')[0]}, T = {grid}")
    depth = int(ok["depth"].iloc[0])
    s2w, s2b, width = ok["sigma_w2"].iloc[0], ok["sigma_b2"].iloc[0], int(ok["width"].iloc[0])
    ax.plot(range(1, depth + 1), mean_field_lengths(s2w, s2b, depth, width, "hardtanh"), ":k",
            label="mean field (full space)")
    ax.set_yscale("log")
    plotting.log_labels(ax)
    plotting.numeric_ticks(ax, range(1, depth + 1))
    ax.set_xlabel("layer")
    ax.set_ylabel("median length (log scale)")


def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
    s = stem(outdir, "static_grid", semantics)
    samples = sample_table(rows, per_layer=True)
    gr, conv = growth(samples), convergence(samples)
    files = [plotting.write_table(samples, s.with_suffix(".csv")),
             plotting.write_table(summary_table(samples, ["grid_points", "layer"]),
                                  Path(f"{s}_summary.csv")),
             plotting.write_table(gr, Path(f"{s}_growth.csv")),
             plotting.write_table(conv, Path(f"{s}_convergence.csv"))]
    plotting.style()
    fig, (ax1, ax2) = plotting.plt.subplots(1, 2, figsize=(10.5, 3.6))
    _draw_growth(ax1, gr)
    ax1.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(0, -0.2), borderaxespad=0)
    _draw_layers(ax2, samples)
    plotting.outside_legend(ax2)
    plotting.suptitle(fig, caption("Static hard-tanh network: per-layer growth of the PCA and the "
                                   "full-space length, against the grid", samples, semantics,
                                   ["grid_points", "layer"], per_layer=True, unit="grid"))
    fig.tight_layout()
    return files + plotting.save(fig, s)


STUDY = Study(
    name="static_grid",
    title="Static hard-tanh net (sigma_w2=16, k=100, 12 layers): PCA and full-space length vs grid",
    grid={"model": ["mlp"], "activation": ["hardtanh"], "width": [WIDTH], "depth": [DEPTH],
          "sigma_w2": [SIGMA_W2], "sigma_b2": [SIGMA_B2], "grid_points": GRIDS},
    samples=10,
    semantics=("paper",),
    draw=draw,
    quick_samples=2,
    quick_grid={"depth": [4], "grid_points": [501, 2001]},
    notes="Our own study (issue 15): the measure's convergence with the points, free of any solver.",
)
