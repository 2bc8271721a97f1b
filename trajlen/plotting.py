"""Pipeline stage 8 — figures: one shared style for every paper artifact. Reads tables only.

Every function here takes a :class:`pandas.DataFrame` that was (or could have been) read back from
a CSV under ``figures/`` — never a solver, a network or a results store — so a figure can always be
redrawn from its committed table. The palette, the model and activation names and the log axes live
here once.

Files are written byte-stable where the backend allows: no timestamps or software versions in PNG or
PDF metadata, a fixed DPI and a fixed figure size, so a rerun of ``python -m trajlen.reproduce``
reproduces the committed files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window (CI, workers)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = ["MODEL_ORDER", "MODEL_NAMES", "PALETTE", "ACTIVATION_NAMES", "model_name", "style",
           "save", "box_panel", "scatter_panel", "latent_grid", "bars_explained", "step_panel", "write_table"]

MODEL_ORDER = ("node", "ctrnn", "ltc", "mlp", "ltc_ncps", "cfc")
MODEL_NAMES = {"node": "Neural ODE", "ctrnn": "CT-RNN", "ltc": "LTC", "mlp": "static net",
               "ltc_ncps": "ncps LTC", "cfc": "CfC"}
#: One colour per model, everywhere (colour-blind safe: seaborn "colorblind"; its first colours are
#: the same whatever the count, so the paper's models keep theirs).
PALETTE = dict(zip(MODEL_NAMES.values(), sns.color_palette("colorblind", len(MODEL_NAMES))))
ACTIVATION_NAMES = {"tanh": "tanh", "sigmoid": "sigmoid", "relu": "ReLU", "hardtanh": "Hard-tanh",
                    "hardtanh_matlab": "Hard-tanh (MATLAB Htanh)", "lecun_tanh": "LeCun tanh"}
DPI = 150
#: PNG/PDF metadata that would otherwise carry the date or the library version.
_PNG_META = {"Software": None}
_PDF_META = {"Creator": None, "Producer": None, "CreationDate": None}


def model_name(model: str) -> str:
    return MODEL_NAMES.get(model, model)


def style() -> None:
    """The paper-like look: white grid, small fonts, the fixed palette."""
    sns.set_theme(context="paper", style="whitegrid", font_scale=0.9)
    plt.rcParams.update({"svg.hashsalt": "trajlen", "pdf.fonttype": 42, "figure.dpi": DPI})


def save(fig: plt.Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` without timestamps; close the figure; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    fig.savefig(png, dpi=DPI, metadata=_PNG_META, bbox_inches="tight")
    fig.savefig(pdf, metadata=_PDF_META, bbox_inches="tight")
    plt.close(fig)
    return [png, pdf]


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """CSV with a fixed float format (so reruns are byte-identical and diffs stay readable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(df.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    return path


def _named(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["Model"] = [model_name(m) for m in out["model"]]
    return out


def _hue_order(df: pd.DataFrame) -> list[str]:
    return [MODEL_NAMES[m] for m in MODEL_ORDER if m in set(df["model"])]


def box_panel(ax: plt.Axes, df: pd.DataFrame, x: str, y: str = "length", logy: bool = True,
              xlabel: str | None = None, ylabel: str = "trajectory length",
              order: Sequence | None = None) -> None:
    """Box plots of ``y`` over samples, one box per (x value, model), log y axis (paper Fig. 3)."""
    d = _named(df[np.isfinite(df[y].astype(float))])
    if d.empty:
        ax.text(0.5, 0.5, "no successful runs", ha="center", va="center", transform=ax.transAxes)
        return
    order = list(order) if order is not None else sorted(d[x].unique())
    sns.boxplot(data=d, x=x, y=y, hue="Model", order=order, hue_order=_hue_order(d), palette=PALETTE,
                ax=ax, fliersize=2, linewidth=0.8, log_scale=logy)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel + (" (log)" if logy else ""))
    # outside the axes: inside, it covered the boxes of the last x value (e.g. Fig 3D's layer 6)
    ax.legend(title=None, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)


def bars_explained(ax: plt.Axes, df: pd.DataFrame, x: str, order: Sequence | None = None) -> None:
    """Variance explained by PC1 and PC2 (bars, mean over samples and models) and their sum (line),
    as in the bottom of paper Fig. 3B."""
    d = df[np.isfinite(df["var_pc1"].astype(float))]
    order = list(order) if order is not None else sorted(d[x].unique())
    g = d.groupby(x)[["var_pc1", "var_pc2"]].mean().reindex(order) * 100
    pos = np.arange(len(order))
    ax.bar(pos - 0.2, g["var_pc1"], 0.4, color="#8e6bbf", label="PC1")
    ax.bar(pos + 0.2, g["var_pc2"], 0.4, color="#c9b3e6", label="PC2")
    ax.plot(pos, g["var_pc1"] + g["var_pc2"], "k-o", ms=3, lw=1, label="PC1 + PC2")
    ax.set_xticks(pos, [str(v) for v in order])
    ax.set_ylim(0, 100)
    ax.set_xlabel(x)
    ax.set_ylabel("variance explained (%)")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)


def latent_grid(curves: pd.DataFrame, col: str, col_label: str, titles: pd.DataFrame) -> plt.Figure:
    """PC1–PC2 latent curves: one row per model, one column per value of ``col`` (paper Fig. 2).

    Parameters
    ----------
    curves : columns ``model, <col>, z1, z2`` (one row per output point, in time order).
    titles : columns ``model, <col>, length`` — the length printed in each panel's title.
    """
    models = [m for m in MODEL_ORDER if m in set(curves["model"])]
    cols = sorted(curves[col].unique())
    fig, axes = plt.subplots(len(models), len(cols), figsize=(2.1 * len(cols), 2.0 * len(models)),
                             squeeze=False)
    for i, m in enumerate(models):
        for j, c in enumerate(cols):
            ax = axes[i, j]
            d = curves[(curves["model"] == m) & (curves[col] == c)]
            ax.plot(d["z1"], d["z2"], lw=0.7, color=PALETTE[model_name(m)])
            hit = titles[(titles["model"] == m) & (titles[col] == c)]
            length = float(hit["length"].iloc[0]) if len(hit) else float("nan")
            ax.set_title(f"{model_name(m)}, {col_label} {c}\nlength {length:.4g}", fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel("PC2")
            if i == len(models) - 1:
                ax.set_xlabel("PC1")
    fig.tight_layout()
    return fig


def step_panel(ax: plt.Axes, df: pd.DataFrame, y: str, order: Sequence[str], logy: bool,
               ylabel: str) -> None:
    """Median (marker) and IQR (bar) of ``y`` per ablation step and model."""
    d = _named(df[np.isfinite(df[y].astype(float))])
    models = _hue_order(d)
    pos = np.arange(len(order))
    for j, m in enumerate(models):
        g = d[d["Model"] == m].groupby("step")[y]
        q = g.quantile([0.25, 0.5, 0.75]).unstack().reindex(order)
        off = (j - (len(models) - 1) / 2) * 0.2
        ax.errorbar(pos + off, q[0.5], yerr=[q[0.5] - q[0.25], q[0.75] - q[0.5]], fmt="o", ms=4,
                    capsize=2, color=PALETTE[m], label=m)
    ax.set_xticks(pos, order, rotation=30, ha="right")
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")


def scatter_panel(ax: plt.Axes, df: pd.DataFrame, x: str, y: str, xlabel: str, ylabel: str,
                  logx: bool = True, logy: bool = True) -> None:
    """One point per network, coloured by model, log axes."""
    d = _named(df[np.isfinite(df[y].astype(float)) & np.isfinite(df[x].astype(float))])
    sns.scatterplot(data=d, x=x, y=y, hue="Model", hue_order=_hue_order(d), palette=PALETTE, ax=ax,
                    s=10, linewidth=0)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(title=None, fontsize="small")
