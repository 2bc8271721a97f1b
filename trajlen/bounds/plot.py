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
        # a few groups of one model: shades of its colour; many (the static network's 16 k × d
        # groups): a perceptual ramp, since 16 shades of one hue cannot be told apart
        color = (base if n == 1 else sns.dark_palette(base, n + 2, reverse=True)[i] if n <= 4
                 else sns.color_palette("viridis", n)[i])
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
        return None
    q = r.groupby(xcol)["ratio"].agg(["median", "min", "max"])
    clip = q.clip(1 / lim, lim)
    ax.plot(clip.index, clip["median"], "-", color=st["color"], marker=st["marker"], ms=3.5, lw=1)
    ax.vlines(clip.index, clip["min"], clip["max"], color=st["color"], lw=0.8, alpha=0.6)
    for x, v in q["median"].items():
        if not 1 / lim <= v <= lim:
            ax.annotate(f"1e{math.log10(v):.0f}", (x, clip.loc[x, "median"]), fontsize=5,
                        color=st["color"], xytext=(3, -8 if v > 1 else 3), textcoords="offset points")
    return float(clip["min"].min()), float(clip["max"].max())


def _ratio_limits(spans: list) -> tuple[float, float]:
    """The ratio axis: the data's range, at least one decade either side of 1, at most
    ±RATIO_DECADES decades (so ratios all near 1 are not squeezed into a sliver of 12 decades)."""
    spans = [s for s in spans if s is not None]
    lo = min([0.1] + [a for a, _ in spans])
    hi = max([10.0] + [b for _, b in spans])
    lo = 10.0 ** max(-RATIO_DECADES, math.floor(math.log10(lo) - 0.2))
    hi = 10.0 ** min(RATIO_DECADES, math.ceil(math.log10(hi) + 0.2))
    return lo, hi


def _exponent_panel(ax, fits: pd.DataFrame, axis: str, labels: dict, styles: dict) -> None:
    f = fits[fits["axis"] == axis].reset_index(drop=True)
    for i, row in f.iterrows():
        st = styles.get(row["group"], {"color": "0.3", "marker": "o"})
        lo, hi = row["slope_lo"], row["slope_hi"]
        ax.errorbar(row["slope"], i, xerr=[[row["slope"] - lo], [hi - row["slope"]]] if np.isfinite(lo)
                    else None, fmt=st["marker"], color=st["color"], ms=4, capsize=2)
    lo, hi = _exponent_limits(f)
    for i, row in f.iterrows():
        inside = bool(row.get("bound_in_ci"))
        b = row["bound_slope"]
        if not np.isfinite(b):
            continue
        if lo <= b <= hi:
            ax.plot(b, i, "|", color="k", ms=9, mew=1.6 if inside else 0.8)
        else:   # off the axis: an arrow at the edge, the bound's value beside it
            edge = lo if b < lo else hi
            ax.plot(edge, i, "<" if b < lo else ">", color="k", ms=4)
            ax.annotate(f"bound {b:.3g}", (edge, i), fontsize=5, va="center",
                        ha="left" if b < lo else "right", xytext=(5 if b < lo else -5, 5),
                        textcoords="offset points")
    ax.set_xlim(lo, hi)
    ax.set_yticks(range(len(f)), [labels.get(g, g) for g in f["group"]], fontsize=5.5)
    ax.invert_yaxis()
    ax.axvline(0, color="0.6", lw=0.5)
    unit = "a per layer (length ∝ e^(a·d))" if AXES[axis][1] == "loglinear" else "exponent a (∝ x^a)"
    ax.set_xlabel(f"growth {unit}\nmarker: measured [95 % CI]; bar: bound (arrow: off the axis)")


def _exponent_limits(f: pd.DataFrame) -> tuple[float, float]:
    """The exponent axis: every measured interval, 0, and the bounds that lie within one span of
    them; a bound farther out is drawn at the edge (the CT-RNN's Eq. 8 reaches −18 per layer)."""
    meas = pd.concat([f["slope"], f["slope_lo"], f["slope_hi"]]).to_numpy(float)
    meas = meas[np.isfinite(meas)]
    lo, hi = min(0.0, meas.min(initial=0.0)), max(0.0, meas.max(initial=0.0))
    span = max(hi - lo, 0.1)
    b = f["bound_slope"].to_numpy(float)
    b = b[np.isfinite(b) & (b > lo - span) & (b < hi + span)]
    lo, hi = min(lo, b.min(initial=lo)), max(hi, b.max(initial=hi))
    pad = 0.08 * (hi - lo)
    return lo - pad, hi + pad


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
    labels, by_group, spans = {}, {}, []
    for (key, g), st in zip(groups, styles):
        label = _label(key, idx, others)
        med = g.groupby(xcol)["length"].quantile([0.25, 0.5, 0.75]).unstack()
        ax1.errorbar(med.index, med[0.5], yerr=[med[0.5] - med[0.25], med[0.75] - med[0.5]],
                     color=st["color"], marker=st["marker"], ms=3.5, lw=1, capsize=2, label=label)
        spans.append(_ratio_panel(ax2, g, xcol, st))
        group = ", ".join(f"{c}={_fmt(v)}" for c, v in zip(others, key) if pd.notna(v))
        labels[group], by_group[group] = label, st
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        if kind == "loglog":
            ax.set_xscale("log")
        xs = sorted(rows[xcol].round(6).unique())
        plotting.numeric_ticks(ax, xs)
        ax.set_xticks(xs, [f"{v:.3g}" for v in xs])   # σ_w = √2 as 1.41, not 1.41421
        ax.set_xlabel(_XLABEL[axis])
    ax2.set_ylim(*_ratio_limits(spans))
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
