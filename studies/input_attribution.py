"""Input attribution (SPEC §6; issue #16) — how much of the measured trajectory length is the input's.

The paper reads the latent length as the deformation of the input circle by the network. Every
network here also moves without any input: from x(0) = 0 its biases drive a transient (and an N-ODE,
which has no leak, drifts for ever). The study measures, at Table 2's setting (k = 100, one layer,
σ_w² = 2, σ_b² = 1, RK45 at rtol 1e-2), every model × activation, under both semantics:

* the length **with the input** and **with it off** (I ≡ 0, ``input_kind="off"``), on the same
  networks (common random numbers: the pair is paired);
* both **from x(0) = 0** over ``[0, 2π]`` (the paper's measurement) and **on the steady orbit**, the
  period ``[T, T + 2π]`` after a transient T = 4·2π (:data:`T_STEADY`), and one period later
  (``T + 2π``) to check that the orbit is steady;
* the input's share ``(with − off)/with`` per network: its median with a 95 % interval, as
  ``1 − the paired median ratio off/with`` (:func:`trajlen.stats.paired_ratio`: the order-statistic
  interval of the median log ratio, and a Wilcoxon signed-rank p).

Why T = 4·2π ≈ 25.1: the slowest decay of a CT-RNN is its largest time constant, τ_max of k = 100 draws
of |N(0, 1)| (median ≈ 2.6; above 3.5 for 5 % of the networks), so T ≥ 7 τ_max for 95 % of them and
the transient has decayed by e^{-7} or more; an LTC's leak ``1/τ + |f| (+ |g|)`` decays at least as
fast. A whole number of periods makes the measured period see the same input as the paper's
``[0, 2π]`` (for the sampled input too: the samples fall on the same phases). Whether the orbit *is*
steady is measured, not assumed: a cell counts as steady when at least 90 % of its networks have the
same length (within 1 %) on ``[T, T + 2π]`` and on ``[T + 2π, T + 4π]``. A network whose state grows
without bound (the paper's N-ODE with ReLU, its LTC with tanh or hard-tanh) has no steady orbit, and
its cell says so.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from trajlen import plotting
from trajlen.stats import median_ci, paired_ratio
from trajlen.study import Study

from ._draw import caption, stem
from .table2 import SETTING

ACTIVATIONS = ["tanh", "sigmoid", "relu", "hardtanh"]
MODELS = ["node", "ctrnn", "ltc"]
#: the transient before the measured steady period: four periods of the input
T_STEADY = 4 * 2 * math.pi
#: one period later: the steadiness check
T_CHECK = T_STEADY + 2 * math.pi
TRANSIENTS = [0.0, T_STEADY, T_CHECK]
#: a network's orbit is steady when its length changes by less than this from one period to the next
STEADY_RTOL = 0.01
#: a cell is steady when at least this fraction of its networks are
STEADY_FRACTION = 0.9
#: fewer networks than this give a share no verdict (no 95 % interval below n = 6 either)
MIN_VERDICT_N = 10
KEYS = ["model", "activation"]


def per_network(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per network and condition: ``input`` (on/off), ``transient``, length, L, status."""
    out = rows[["semantics", "model", "activation", "sample", "transient", "input_kind", "status",
                "length", "L", "n_accepted"]].copy()
    out.insert(4, "input", np.where(out.pop("input_kind") == "off", "off", "on"))
    return out.sort_values([*KEYS, "transient", "input", "sample"], kind="stable").reset_index(drop=True)


def _lengths(g: pd.DataFrame, transient: float, inp: str) -> pd.Series:
    sel = g[np.isclose(g["transient"], transient) & (g["input"] == inp) & (g["status"] == "ok")]
    return sel.set_index("sample")["length"]


def _share(on: pd.Series, off: pd.Series) -> dict:
    """Median input share ``1 − off/on`` over the paired networks, its 95 % interval, Wilcoxon p."""
    both = on.index.intersection(off.index)
    r = paired_ratio(off.loc[both], on.loc[both])
    return {"n_pairs": r.n, "share": 1.0 - r.ratio.median, "share_lo": 1.0 - r.ratio.high,
            "share_hi": 1.0 - r.ratio.low, "p_wilcoxon": r.p_wilcoxon}


def _steady(g: pd.DataFrame) -> tuple[float, float]:
    """Fraction of networks (with the input) whose length at T_CHECK is within STEADY_RTOL of that at
    T_STEADY, and the median of that ratio."""
    a, b = _lengths(g, T_STEADY, "on"), _lengths(g, T_CHECK, "on")
    both = a.index.intersection(b.index)
    if not len(both):
        return math.nan, math.nan
    ratio = (b.loc[both] / a.loc[both]).to_numpy()
    return float(np.mean(np.abs(ratio - 1.0) < STEADY_RTOL)), float(np.median(ratio))


def shares(samples: pd.DataFrame) -> pd.DataFrame:
    """Per model × activation and measured window (from x(0) = 0; steady orbit): the median lengths
    with and without the input (95 % intervals), the input's share, the steadiness check."""
    out = []
    for (model, act), g in samples.groupby(KEYS, sort=False):
        frac, ratio = _steady(g)
        for window, T in (("from x(0) = 0", 0.0), ("steady orbit", T_STEADY)):
            on, off = _lengths(g, T, "on"), _lengths(g, T, "off")
            rec = {"model": model, "activation": act, "window": window, "transient": T,
                   "n": int((np.isclose(g["transient"], T) & (g["input"] == "on")).sum())}
            for name, s in (("on", on), ("off", off)):
                m = median_ci(s)
                rec.update({f"length_{name}": m.median, f"length_{name}_lo": m.low,
                            f"length_{name}_hi": m.high})
            rec.update(_share(on, off))
            rec.update(steady_fraction=frac if T else math.nan, next_period_ratio=ratio if T else math.nan)
            rec["steady"] = bool(T == 0.0 or frac >= STEADY_FRACTION)
            out.append(rec)
    df = pd.DataFrame(out)
    order = {(m, a): i for i, (a, m) in enumerate((a, m) for a in ACTIVATIONS for m in MODELS)}
    return df.iloc[sorted(range(len(df)), key=lambda i: (order[(df["model"].iloc[i],
                                                                df["activation"].iloc[i])],
                                                         df["transient"].iloc[i]))].reset_index(drop=True)


def _ci(m, lo, hi, fmt=".3g") -> str:
    if not np.isfinite(m):
        return "—"
    return f"{m:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]" if np.isfinite(lo) else f"{m:{fmt}} [n < 6]"


def _share_text(r) -> str:
    if not np.isfinite(r["share"]):
        return "—"
    p = f" (p = {r['p_wilcoxon']:.2g})" if np.isfinite(r["p_wilcoxon"]) else ""
    return _ci(100 * r["share"], 100 * r["share_lo"], 100 * r["share_hi"], ".3g") + " %" + p


def markdown(table: pd.DataFrame, semantics: str) -> str:
    """The study's table: per cell and window, lengths with and without the input and the share."""
    lines = [f"Input attribution ({semantics} semantics): median PCA length with the input and with "
             "it off (95 % intervals), and the input's share (with − off)/with per network "
             "(median [95 % interval], Wilcoxon signed-rank p); steady orbit: the period "
             f"[T, T + 2π] after T = 4·2π, steady when ≥ {STEADY_FRACTION:.0%} of the networks keep "
             f"their length within {STEADY_RTOL:.0%} one period later", "",
             "| activation | model | window | n | length, input on | length, input off | input share "
             "| steady (fraction; next/this period) |", "|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        steady = "—" if r["transient"] == 0 else (
            f"{'yes' if r['steady'] else '**no**'} ({r['steady_fraction']:.0%}; "
            f"{r['next_period_ratio']:.3g})")
        on = _ci(r["length_on"], r["length_on_lo"], r["length_on_hi"])
        off = _ci(r["length_off"], r["length_off_lo"], r["length_off_hi"])
        lines.append(f"| {plotting.ACTIVATION_NAMES[r['activation']]} | {plotting.model_name(r['model'])} "
                     f"| {r['window']} | {r['n']} | {on} | {off} | {_share_text(r)} | {steady} |")
    return "\n".join(lines) + "\n" + verdict(table, semantics) + "\n"


def verdict(table: pd.DataFrame, semantics: str) -> str:
    """One paragraph: where the input's share is below 1 %, 10 %, above 50 %, from x(0) = 0 and on
    the steady orbit (steady cells only); no verdict for cells of fewer than MIN_VERDICT_N."""
    lines = []
    for window in ("from x(0) = 0", "steady orbit"):
        t = table[(table["window"] == window) & (table["n_pairs"] >= MIN_VERDICT_N)]
        unsteady = t[~t["steady"]]
        t = t[t["steady"]]
        if t.empty:
            lines.append(f"- {window}: no steady cell with n >= {MIN_VERDICT_N} (no verdict)")
        else:
            name = [f"{plotting.model_name(m)}/{plotting.ACTIVATION_NAMES[a]} {100 * s:.3g} %"
                    for m, a, s in zip(t["model"], t["activation"], t["share"])]
            small = [n for n, s, hi in zip(name, t["share"], t["share_hi"])
                     if abs(s) < 0.01 and hi < 0.05]
            large = [n for n, s in zip(name, t["share"]) if s > 0.5]
            lines.append(f"- {window}: the input's median share is within ±1 % (interval below 5 %) "
                         f"in {len(small)} of "
                         f"{len(t)} cells ({', '.join(small) or 'none'}), above 50 % in {len(large)} "
                         f"({', '.join(large) or 'none'})")
        if len(unsteady):
            lines.append("  - no steady orbit (length still changing one period later, e.g. growing "
                         "without bound): " + ", ".join(
                             f"{plotting.model_name(m)}/{plotting.ACTIVATION_NAMES[a]}"
                             for m, a in zip(unsteady["model"], unsteady["activation"])))
    return f"\nVerdict ({semantics}):\n" + "\n".join(lines)


def _figure(table: pd.DataFrame, rows: pd.DataFrame, semantics: str, s: Path) -> list[Path]:
    plotting.style()
    fig, axes = plotting.plt.subplots(1, 2, figsize=(12.5, 3.6), sharey=True)
    for ax, window in zip(axes, ("from x(0) = 0", "steady orbit")):
        t = table[table["window"] == window]
        for j, m in enumerate(MODELS):
            d = t[t["model"] == m].set_index("activation").reindex(ACTIVATIONS)
            x = np.arange(len(ACTIVATIONS)) + (j - 1) * 0.22
            y = 100 * d["share"].to_numpy(dtype=float)
            err = np.abs(np.vstack([y - 100 * d["share_lo"].to_numpy(dtype=float),
                                    100 * d["share_hi"].to_numpy(dtype=float) - y]))
            color = plotting.PALETTE[plotting.model_name(m)]
            steady = d["steady"].fillna(False).to_numpy(dtype=bool)
            ax.errorbar(x, y, yerr=np.nan_to_num(err), fmt="none", ecolor=color, capsize=3)
            ax.scatter(x[steady], y[steady], color=color, label=plotting.model_name(m), zorder=3)
            ax.scatter(x[~steady], y[~steady], facecolors="none", edgecolors=color, zorder=3,
                       label=None if steady.all() else f"{plotting.model_name(m)}: no steady orbit")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(range(len(ACTIVATIONS)), [plotting.ACTIVATION_NAMES[a] for a in ACTIVATIONS])
        n = int(t["n_pairs"].max()) if len(t) else 0
        ax.set_title(f"{window} [{semantics}, n = {n} pairs]", fontsize="small")
    axes[0].set_ylabel("input share of the length (%)\nmedian of (with − off)/with, 95 % CI")
    plotting.outside_legend(axes[1])
    # the caption reads the configuration from the rows themselves (Table 2's setting); n counts
    # each network once per condition
    plotting.suptitle(fig, caption("Input attribution: the input's share of the length, "
                                   "1 − length(off)/length(on) on the same networks", rows, semantics,
                                   ["activation", "input_kind", "transient", "input_dt", "n_samples"],
                                   unit="cell and condition"))
    fig.tight_layout()
    return plotting.save(fig, s)


def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
    s = stem(outdir, "input_attribution", semantics)
    samples = per_network(rows)
    table = shares(samples)
    files = [plotting.write_table(samples, s.with_suffix(".csv")),
             plotting.write_table(table, Path(f"{s}_summary.csv"))]
    md = Path(f"{s}.md")
    md.write_text(markdown(table, semantics))
    files.append(md)
    return files + _figure(table, rows, semantics, s)


STUDY = Study(
    name="input_attribution",
    title="Input attribution: length with the input, with it off, from x(0) = 0 and on the steady orbit",
    grid={"model": MODELS, "activation": ACTIVATIONS, **SETTING,
          "input_kind": [None, "off"], "transient": TRANSIENTS},
    samples=100,
    draw=draw,
    quick_samples=3,
    quick_grid={"width": [10]},
    notes="Table 2's setting; input off is I ≡ 0 (kind 'off'); the steady orbit is [T, T + 2π] after "
          "T = 4·2π, with MATLAB's MaxStep that of one period (SPEC §6).",
)
