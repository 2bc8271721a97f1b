"""Pipeline stage 9 (figures) — measured length against a bound along each sweep axis.

One figure per sweep axis, in the shared style of :mod:`trajlen.plotting` (its model palette, fonts
and byte-stable files), three panels:

1. the measured length per configuration (median and quartiles over networks, log y);
2. measured / bound per configuration (median, and the range over networks) on a log axis held to
   ±``RATIO_DECADES`` decades around 1 — a bound that misses by more (Eq. 8 and 9 reach 10⁴⁷) is
   drawn at the edge with its power of ten written beside it, so no axis spans 48 decades;
3. the growth exponents: measured, with its 95 % interval, against the bound's (filled: the bound's
   exponent inside the measured interval).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .check import _AXIS_CONFIG, AXES, BoundReport, _fmt

__all__ = ["plot_report", "RATIO_DECADES"]

_SHORT = {"width": "k", "sigma_w2": "σ_w²", "sigma_b2": "σ_b²", "depth": "d"}
_XLABEL = {"k": "width k", "sigma_w": "σ_w (as the theorems take it)", "depth": "depth d (layers)"}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
#: the ratio axis shows 10^-RATIO_DECADES … 10^RATIO_DECADES; beyond, points sit on the edge
RATIO_DECADES = 6


def _groups(rows: pd.DataFrame, rep: BoundReport, cfg: str) -> tuple[list, list[int], list[str]]:
    """Configurations along ``cfg`` (the other config columns fixed), the positions (in the other
    config columns) of those that tell them apart (model first), and the other columns."""
    others = [c for c in rep.config_columns if c != cfg]
    groups = rows.groupby(others, sort=True, dropna=False) if others else [((), rows)]
    groups = [(k if isinstance(k, tuple) else (k,), g) for k, g in groups if g[cfg].nunique() >= 2]
    if "model" in others:   # the models in the order every figure shows them
        from ..plotting import MODEL_ORDER

        mi = others.index("model")
        rank = {m: i for i, m in enumerate(MODEL_ORDER)}
        groups.sort(key=lambda kg: rank.get(kg[0][mi], len(rank)))
    keys = pd.DataFrame([k for k, _ in groups], columns=others) if groups else pd.DataFrame()
    differ = [c for c in others if c in keys.columns and keys[c].astype(str).nunique() > 1]
    if "model" in others and "model" not in differ:
        differ.insert(0, "model")
    return groups, [others.index(c) for c in differ], others


def _styles(groups: list, others: list[str]) -> list[dict]:
    """Per group: colour of its model (shaded when a model has several groups), marker, label."""
    import seaborn as sns

    from .. import plotting

    mi = others.index("model") if "model" in others else None
    models = [k[mi] if mi is not None else "" for k, _ in groups]
    out, seen = [], {}
    for m in models:
        i = seen.get(m, 0)
        seen[m] = i + 1
        n = models.count(m)
        base = plotting.model_color(m)
        color = base if n == 1 else sns.dark_palette(base, n + 2, reverse=True)[i]
        out.append({"color": color, "marker": _MARKERS[i % len(_MARKERS)]})
    return out


def _label(key: tuple, idx: list[int], others: list[str]) -> str:
    from .. import plotting

    parts = []
    for i in idx:
        c, v = others[i], key[i]
        parts.append(plotting.model_name(v) if c == "model" else f"{_SHORT.get(c, c)}={_fmt(v)}")
    return ", ".join(parts) or "all"


def _ratio_panel(ax, g: pd.DataFrame, xcol: str, st: dict) -> None:
    lim = 10.0 ** RATIO_DECADES
    r = g[np.isfinite(g["ratio"]) & (g["ratio"] > 0)]
    if r.empty:
        return
    q = r.groupby(xcol)["ratio"].agg(["median", "min", "max"])
    clip = q.clip(1 / lim, lim)
    ax.plot(clip.index, clip["median"], "-", color=st["color"], marker=st["marker"], ms=3.5, lw=1)
    ax.vlines(clip.index, clip["min"], clip["max"], color=st["color"], lw=0.8, alpha=0.6)
    for x, v in q["median"].items():
        if not 1 / lim <= v <= lim:
            ax.annotate(f"1e{math.log10(v):.0f}", (x, clip.loc[x, "median"]), fontsize=5,
                        color=st["color"], xytext=(3, -8 if v > 1 else 3), textcoords="offset points")


def _exponent_panel(ax, fits: pd.DataFrame, axis: str, labels: dict, styles: dict) -> None:
    f = fits[fits["axis"] == axis].reset_index(drop=True)
    for i, row in f.iterrows():
        st = styles.get(row["group"], {"color": "0.3", "marker": "o"})
        lo, hi = row["slope_lo"], row["slope_hi"]
        ax.errorbar(row["slope"], i, xerr=[[row["slope"] - lo], [hi - row["slope"]]] if np.isfinite(lo)
                    else None, fmt=st["marker"], color=st["color"], ms=4, capsize=2)
        inside = bool(row.get("bound_in_ci"))
        ax.plot(row["bound_slope"], i, "|", color="k", ms=9, mew=1.6 if inside else 0.8)
    ax.set_yticks(range(len(f)), [labels.get(g, g) for g in f["group"]], fontsize=5.5)
    ax.invert_yaxis()
    ax.axvline(0, color="0.6", lw=0.5)
    unit = "a per layer (length ∝ e^{a·d})" if AXES[axis][1] == "loglinear" else "exponent a (∝ x^a)"
    ax.set_xlabel(f"growth {unit}\nmarker: measured [95 % CI]; bar: bound")


def _caption(rep: BoundReport, rows: pd.DataFrame, axis: str) -> list[str]:
    sem = ", ".join(sorted(rows["semantics"].astype(str).unique())) if "semantics" in rows else "?"
    n = rows.groupby(rep.config_columns).size()
    acts = ", ".join(sorted(rows["activation"].astype(str).unique())) if "activation" in rows else ""
    return [f"Measured trajectory length against the bound along {axis} — {sem} semantics, {acts}",
            rep.header[0] if rep.header else "",
            f"n = {n.min()}–{n.max()} networks per point (successful solves)" if n.min() != n.max()
            else f"n = {n.max()} networks per point (successful solves)"]


def _figure(rep: BoundReport, rows: pd.DataFrame, axis: str):
    import matplotlib.pyplot as plt

    from .. import plotting

    xcol, kind = AXES[axis]
    groups, idx, others = _groups(rows, rep, _AXIS_CONFIG[axis])
    styles = _styles(groups, others)
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.9),
                                        gridspec_kw={"width_ratios": [1, 1, 0.9]})
    labels, by_group = {}, {}
    for (key, g), st in zip(groups, styles):
        label = _label(key, idx, others)
        med = g.groupby(xcol)["length"].quantile([0.25, 0.5, 0.75]).unstack()
        ax1.errorbar(med.index, med[0.5], yerr=[med[0.5] - med[0.25], med[0.75] - med[0.5]],
                     color=st["color"], marker=st["marker"], ms=3.5, lw=1, capsize=2, label=label)
        _ratio_panel(ax2, g, xcol, st)
        group = ", ".join(f"{c}={_fmt(v)}" for c, v in zip(others, key) if pd.notna(v))
        labels[group], by_group[group] = label, st
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        if kind == "loglog":
            ax.set_xscale("log")
        plotting.numeric_ticks(ax, rows[xcol].round(6).unique())
        ax.set_xlabel(_XLABEL[axis])
    ax2.set_ylim(10.0 ** -RATIO_DECADES, 10.0 ** RATIO_DECADES)
    for ax in (ax1, ax2):
        plotting.log_labels(ax)
    ax1.set_ylabel("measured length: median, IQR (log)")
    ax2.axhline(1, color="k", lw=0.8, ls="--")
    ax2.set_ylabel("measured / bound: median, range (log)")
    if not rep.fits.empty:
        _exponent_panel(ax3, rep.fits, axis, labels, by_group)
    handles, names = ax1.get_legend_handles_labels()
    ax3.legend(handles, names, fontsize=5.5, loc="upper left", bbox_to_anchor=(1.02, 1),
               borderaxespad=0)
    plotting.suptitle(fig, _caption(rep, rows, axis))
    fig.tight_layout()
    return fig


def plot_report(rep: BoundReport, out_dir: str | Path, fmt: str = "png") -> list[Path]:
    """Measured vs bound per sweep axis: lengths, ratios and growth exponents (module docstring).

    Parameters
    ----------
    rep : from :func:`~trajlen.bounds.check_bound`; rows with an undefined bound get no ratio.
    out_dir : created if absent; one file ``bounds_<axis>.<fmt>`` per sweep axis that varies.
    fmt : ``"png"`` or ``"pdf"``.

    Returns
    -------
    list of Path : the files written (empty when no sweep axis varies).
    """
    from .. import plotting

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plotting.style()
    rows = rep.rows.copy()
    if "bound_undefined" in rows.columns:  # no verdict: no ratio point
        rows["ratio"] = rows["ratio"].where(rows["bound_undefined"] == "")
    written = []
    for axis in AXES:
        cfg = _AXIS_CONFIG[axis]
        if cfg not in rows.columns or rows[cfg].nunique() < 2:
            continue
        fig = _figure(rep, rows, axis)
        written += plotting.save(fig, out_dir / f"bounds_{axis}", formats=(fmt,))
    return written
