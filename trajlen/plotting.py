"""Pipeline stage 8 — figures: one shared style for every paper artifact. Reads tables only.

Every function here takes a :class:`pandas.DataFrame` that was (or could have been) read back from
a CSV under ``figures/`` — never a solver, a network or a results store — so a figure can always be
redrawn from its committed table. The palette, the model and activation names, the axes (numeric
width and σ_w² on log scales, integer layer ticks) and the legend placement live here once.

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
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator  # noqa: E402

__all__ = ["MODEL_ORDER", "MODEL_NAMES", "PALETTE", "ACTIVATION_NAMES", "model_name", "style",
           "save", "box_panel", "scatter_panel", "latent_grid", "bars_explained", "step_panel",
           "write_table", "value_text", "numeric_ticks", "outside_legend", "panel_title", "suptitle",
           "log_labels", "model_color"]

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


def model_color(model: str):
    """The model's colour (accepts the code name, ``"ltc"``, or the display name, ``"LTC"``)."""
    return PALETTE.get(model_name(model), PALETTE.get(model, "0.3"))


def value_text(v) -> str:
    """A grid value as a reader writes it: 2.0 → ``2``, 0.5 → ``0.5``, 100 → ``100``."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def style() -> None:
    """The paper-like look: white grid, small fonts, the fixed palette."""
    sns.set_theme(context="paper", style="whitegrid", font_scale=0.9)
    plt.rcParams.update({"svg.hashsalt": "trajlen", "pdf.fonttype": 42, "figure.dpi": DPI})


def save(fig: plt.Figure, stem: Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` without timestamps; close the figure; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        meta = _PNG_META if fmt == "png" else _PDF_META
        fig.savefig(path, dpi=DPI, metadata=meta, bbox_inches="tight")
        out.append(path)
    plt.close(fig)
    return out


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """CSV with a fixed float format (so reruns are byte-identical and diffs stay readable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(df.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    return path


def suptitle(fig: plt.Figure, lines: Sequence[str]) -> None:
    """The figure's caption on top: what it shows, its semantics, n and configuration (each line
    wrapped to the figure's width)."""
    import textwrap

    width = max(70, int(fig.get_figwidth() * 19))
    text = "\n".join(textwrap.fill(line, width) for line in lines if line)
    fig.suptitle(text, fontsize="small", x=0.01, ha="left")


def _named(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["Model"] = [model_name(m) for m in out["model"]]
    return out


def _hue_order(df: pd.DataFrame) -> list[str]:
    return [MODEL_NAMES[m] for m in MODEL_ORDER if m in set(df["model"])]


def numeric_ticks(ax: plt.Axes, values: Sequence, axis: str = "x") -> None:
    """Ticks at exactly the grid values, written plainly (10, 25, 50, …; 1, 2, 3 for layers) — on a
    log axis too, where matplotlib would otherwise print only powers of ten. Where two long labels
    would touch (0.0997 next to 0.2027), every label is rounded to two significant figures."""
    values = sorted(set(values))
    a = ax.xaxis if axis == "x" else ax.yaxis
    labels = [value_text(v) for v in values]
    crowded = any(len(a_) + len(b_) >= 10 and 0 < u < v < 2.5 * u
                  for a_, b_, u, v in zip(labels, labels[1:], values, values[1:]))
    short = [f"{v:.2g}" for v in values]
    if crowded and len(set(short)) == len(short):
        labels = short   # long labels a factor < 2.5 apart touch: 2 digits (the tables are exact)
    (ax.set_xticks if axis == "x" else ax.set_yticks)(values, labels)
    a.set_minor_locator(NullLocator())


def _plain(v: float, _pos=None) -> str:
    """A tick label without mathtext: 0.5, 3, 40, 200, 1e+04 (scientific from 10⁴ and below 10⁻²)."""
    if v == 0:
        return "0"
    return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-") if not 1e-2 <= abs(v) < 1e4 else f"{v:g}"


def _minor(v: float, _pos=None, subs: tuple[int, ...] = (2, 3, 5)) -> str:
    """Label the ``subs`` multiples (2, 3 and 5 by default) of a short log axis."""
    return _plain(v) if v > 0 and round(v / 10 ** np.floor(np.log10(v))) in subs else ""


def log_labels(ax: plt.Axes, axis: str = "y") -> None:
    """Readable labels on a log axis: powers of ten written plainly (1, 10, 100, 1e4); when the axis
    spans less than about two decades the 2, 3 and 5 multiples are labelled too, up to three decades
    the 3 multiples (so a box between two powers of ten still has a labelled tick near it); beyond,
    they are bare ticks."""
    a = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = (ax.get_ylim() if axis == "y" else ax.get_xlim())
    if lo <= 0 or hi <= 0:
        return
    a.set_major_locator(LogLocator(base=10))
    a.set_major_formatter(FuncFormatter(_plain))
    a.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10)))
    span = np.log10(hi / lo)
    if span < 1.8:
        a.set_minor_formatter(FuncFormatter(_minor))
    elif span < 3.0:
        a.set_minor_formatter(FuncFormatter(lambda v, pos: _minor(v, pos, subs=(3,))))
    else:
        a.set_minor_formatter(NullFormatter())


def outside_legend(ax: plt.Axes, **kw) -> None:
    """The figure's one legend, right of ``ax`` (outside the data, so it covers no point)."""
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    if handles:
        ax.legend(handles, labels, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1),
                  borderaxespad=0, **kw)


def _drop_legend(ax: plt.Axes) -> None:
    if ax.get_legend() is not None:
        ax.get_legend().remove()


def _coloured_outlines(ax: plt.Axes, width: float = 2.0) -> None:
    """Outline every box in its own fill colour: a box only a few pixels tall (a tight spread on a
    log axis) would otherwise show only its dark median line and hide which model it is."""
    from matplotlib.patches import PathPatch

    for p in ax.patches:
        if isinstance(p, PathPatch):
            p.set_edgecolor(p.get_facecolor())
            p.set_linewidth(width)


def box_panel(ax: plt.Axes, df: pd.DataFrame, x: str, y: str = "length", logy: bool = True,
              xlabel: str | None = None, ylabel: str = "trajectory length",
              order: Sequence | None = None, numeric: bool = False, logx: bool = False,
              legend: bool = True) -> None:
    """Box plots of ``y`` over samples, one box per (x value, model), log y axis (paper Fig. 3).

    ``numeric``: ``x`` is a number (width, σ_w², layer) and is drawn on a numeric axis — log with
    ``logx`` — with ticks at the grid values; otherwise the x values are categories (activation,
    solver). ``legend``: this panel carries the figure's legend (outside, right).
    """
    d = _named(df[np.isfinite(df[y].astype(float))])
    if d.empty:
        ax.text(0.5, 0.5, "no successful runs", ha="center", va="center", transform=ax.transAxes)
        return
    common = dict(data=d, x=x, y=y, hue="Model", hue_order=_hue_order(d), palette=PALETTE, ax=ax,
                  fliersize=2, linewidth=0.8)
    if numeric:
        sns.boxplot(**common, native_scale=True, log_scale=(logx, logy))
        numeric_ticks(ax, d[x].unique())
    else:
        order = list(order) if order is not None else sorted(d[x].unique())
        sns.boxplot(**common, order=order, log_scale=logy)
    _coloured_outlines(ax)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel + (" (log scale)" if logy else ""))
    if logy:
        log_labels(ax)
    if legend:
        outside_legend(ax)
    else:
        _drop_legend(ax)


def bars_explained(ax: plt.Axes, df: pd.DataFrame, x: str, order: Sequence | None = None,
                   legend: bool = True, logx: bool = False) -> None:
    """Variance explained by PC1 and PC2 (bars, mean over samples and models) and their sum (line),
    as in the bottom of paper Fig. 3B. ``logx``: on the same numeric log axis as the boxes above
    (bars either side of each grid value); otherwise evenly spaced."""
    d = df[np.isfinite(df["var_pc1"].astype(float))]
    order = list(order) if order is not None else sorted(d[x].unique())
    g = d.groupby(x)[["var_pc1", "var_pc2"]].mean().reindex(order) * 100
    if logx:
        pos = np.asarray(order, dtype=float)
        step = 10 ** (0.3 * np.min(np.diff(np.log10(pos)))) if len(pos) > 1 else 1.2
        ax.bar(pos / step, g["var_pc1"], pos - pos / step, align="edge", color="#8e6bbf", label="PC1")
        ax.bar(pos, g["var_pc2"], pos * step - pos, align="edge", color="#c9b3e6", label="PC2")
        ax.set_xscale("log")
        numeric_ticks(ax, order)
    else:
        pos = np.arange(len(order))
        ax.bar(pos - 0.2, g["var_pc1"], 0.4, color="#8e6bbf", label="PC1")
        ax.bar(pos + 0.2, g["var_pc2"], 0.4, color="#c9b3e6", label="PC2")
        ax.set_xticks(pos, [value_text(v) for v in order])
    ax.plot(pos, g["var_pc1"] + g["var_pc2"], "k-o", ms=3, lw=1, label="PC1 + PC2")
    ax.set_ylim(0, 100)
    ax.set_xlabel(x)
    ax.set_ylabel("variance explained (%)")
    if legend:
        outside_legend(ax)


def panel_title(rec: pd.Series | dict) -> str:
    """A latent-curve panel's title: model, layer, activation, k, σ_w² and the curve's length."""
    layer = f"layer {int(rec['layer'])} of {int(rec['depth'])}" if "layer" in rec else ""
    act = ACTIVATION_NAMES.get(rec.get("activation", ""), rec.get("activation", ""))
    return (f"{model_name(rec['model'])}, {layer}\n{act}, k = {value_text(rec['width'])}, "
            f"σ_w² = {value_text(rec['sigma_w2'])}\nlength {rec['length']:.4g}")


def latent_grid(curves: pd.DataFrame, col: str, titles: pd.DataFrame) -> plt.Figure:
    """PC1–PC2 latent curves: one row per model, one column per value of ``col`` (paper Fig. 2),
    each panel with its own numeric scales and titled by :func:`panel_title`.

    Parameters
    ----------
    curves : columns ``model, <col>, z1, z2`` (one row per output point, in time order).
    titles : columns ``model, <col>, length, activation, width, sigma_w2, layer, depth``.
    """
    models = [m for m in MODEL_ORDER if m in set(curves["model"])]
    cols = sorted(curves[col].unique())
    fig, axes = plt.subplots(len(models), len(cols), figsize=(2.45 * len(cols), 2.55 * len(models)),
                             squeeze=False)
    for i, m in enumerate(models):
        for j, c in enumerate(cols):
            ax = axes[i, j]
            d = curves[(curves["model"] == m) & (curves[col] == c)]
            ax.plot(d["z1"], d["z2"], lw=0.7, color=model_color(m))
            if len(d):
                ax.plot(d["z1"].iloc[:1], d["z2"].iloc[:1], "o", ms=3, color="k")  # t = 0
            hit = titles[(titles["model"] == m) & (titles[col] == c)]
            ax.set_title(panel_title(hit.iloc[0]) if len(hit) else model_name(m), fontsize="x-small")
            ax.tick_params(labelsize=5.5, pad=1)
            ax.ticklabel_format(style="sci", scilimits=(-3, 4))
            for a in (ax.xaxis, ax.yaxis):
                a.get_offset_text().set_fontsize(5.5)
            ax.set_ylabel("PC2", fontsize="x-small", labelpad=1)
            ax.set_xlabel("PC1", fontsize="x-small", labelpad=1)
    fig.tight_layout(h_pad=0.6, w_pad=0.4)
    return fig


def step_panel(ax: plt.Axes, df: pd.DataFrame, y: str, order: Sequence[str], logy: bool,
               ylabel: str, legend: bool = True, xticklabels: bool = True) -> None:
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
    ax.set_xticks(pos, order if xticklabels else [""] * len(order), rotation=30, ha="right")
    if logy:
        ax.set_yscale("log")
        log_labels(ax)
    ax.set_ylabel(ylabel + (" (log scale)" if logy else ""))
    if legend:
        outside_legend(ax)


def scatter_panel(ax: plt.Axes, df: pd.DataFrame, x: str, y: str, xlabel: str, ylabel: str,
                  logx: bool = True, logy: bool = True, legend: bool = True) -> None:
    """One point per network, coloured by model, log axes."""
    d = _named(df[np.isfinite(df[y].astype(float)) & np.isfinite(df[x].astype(float))])
    sns.scatterplot(data=d, x=x, y=y, hue="Model", hue_order=_hue_order(d), palette=PALETTE, ax=ax,
                    s=10, linewidth=0)
    if logx:
        ax.set_xscale("log")
        log_labels(ax, "x")
    if logy:
        ax.set_yscale("log")
        log_labels(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        outside_legend(ax)
    else:
        _drop_legend(ax)
