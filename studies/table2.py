"""Table 2 — computational depth L of one-layer networks (k = 100, σ_w² = 2, σ_b² = 1), per activation
and model, mean ± std over 100 networks; RK45 at rtol 1e-2, atol 1e-4.

The paper's L depends on MATLAB ``ode45``'s step rules and its ``Refine = 4`` output (SPEC §2–3), so the
reference semantics run the ``matlab`` controller (the default backend ``auto`` puts RK45 on the
compiled numba kernel, which has it, as does the torch batch); the paper semantics use the scipy
controller and the solver's own steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trajlen import plotting
from trajlen.stats import median_ci, paired_ratio
from trajlen.study import Study

from ._draw import sample_table, stem, summary_table, task_of

ACTIVATIONS = ["tanh", "sigmoid", "relu", "hardtanh"]
#: fewer networks than this per cell give no yes/no verdict against the paper
MIN_VERDICT_N = 10
MODELS = ["node", "ctrnn", "ltc"]

#: Table 2 of the paper (mean, std), SPEC §5.
PAPER = {
    ("tanh", "node"): (0.56, 0.016), ("tanh", "ctrnn"): (4.13, 2.19), ("tanh", "ltc"): (9.19, 2.92),
    ("sigmoid", "node"): (0.56, 0.00), ("sigmoid", "ctrnn"): (5.33, 3.76), ("sigmoid", "ltc"): (7.00, 5.36),
    ("relu", "node"): (1.29, 0.10), ("relu", "ctrnn"): (4.31, 2.05), ("relu", "ltc"): (56.9, 9.03),
    ("hardtanh", "node"): (0.61, 0.02), ("hardtanh", "ctrnn"): (4.05, 2.17),
    ("hardtanh", "ltc"): (81.01, 10.05),
}


def comparison(summary: pd.DataFrame) -> pd.DataFrame:
    """Our L (mean, std, median, IQR, n) beside the paper's, with whether our mean is in paper ± std."""
    out = []
    for act in ACTIVATIONS:
        for m in MODELS:
            hit = summary[(summary["activation"] == act) & (summary["model"] == m)]
            pm, ps = PAPER[(act, m)]
            rec = {"activation": act, "model": m, "paper_mean": pm, "paper_std": ps}
            if len(hit):
                h = hit.iloc[0]
                rec.update(n=int(h["n"]), n_failed=int(h["n_failed"]), L_mean=h.get("L_mean", np.nan),
                           L_std=h.get("L_std", np.nan), L_median=h.get("L_median", np.nan),
                           L_q1=h.get("L_q1", np.nan), L_q3=h.get("L_q3", np.nan),
                           length_median=h.get("length_median", np.nan),
                           L_mean_without_min_tau=h.get("L_mean_without_min_tau", np.nan))
                # the paper prints two decimals: compare our mean at that precision, so that a
                # float sum of 100 equal L (0.56 + 2e-16) is not "outside 0.56 ± 0.00"
                rec["within_paper_std"] = bool(abs(round(rec["L_mean"], 2) - pm) <= ps)
                rec["median_within_paper_std"] = bool(abs(round(rec["L_median"], 2) - pm) <= ps)
            out.append(rec)
    return pd.DataFrame(out)


def markdown(cmp: pd.DataFrame, semantics: str) -> str:
    lines = [f"Table 2 — computational depth L ({semantics} semantics): ours beside the paper's",
             "", "| activation | model | paper mean ± std | ours mean ± std | ours median [Q1, Q3] | n | "
             "mean within paper ± std | median within paper ± std |", "|---|---|---|---|---|---|---|---|"]
    for _, r in cmp.iterrows():
        if "L_mean" not in r or pd.isna(r.get("L_mean")):
            ours, med, n, ok, ok_med = "—", "—", "0", "—", "—"
        else:
            ours = f"{r['L_mean']:.3g} ± {r['L_std']:.3g}"
            med = f"{r['L_median']:.3g} [{r['L_q1']:.3g}, {r['L_q3']:.3g}]"
            n = f"{int(r['n'])}" + (f" ({int(r['n_failed'])} failed)" if r["n_failed"] else "")
            if int(r["n"]) < MIN_VERDICT_N:   # e.g. --quick: a smoke run, no verdict
                ok = ok_med = f"n = {int(r['n'])}: not a test"
            else:
                ok = "yes" if r["within_paper_std"] else "**no**"
                ok_med = "yes" if r["median_within_paper_std"] else "**no**"
        lines.append(f"| {plotting.ACTIVATION_NAMES[r['activation']]} | {plotting.model_name(r['model'])} | "
                     f"{r['paper_mean']:.3g} ± {r['paper_std']:.3g} | {ours} | {med} | {n} | {ok} | "
                     f"{ok_med} |")
    return "\n".join(lines) + "\n"


#: the paired comparisons of one activation's models (numerator, denominator)
PAIRS = [("ltc", "ctrnn"), ("ltc", "node"), ("ctrnn", "node")]


def intervals(samples: pd.DataFrame) -> pd.DataFrame:
    """Per activation: each model's median L and length with its 95 % order-statistic interval
    (:func:`trajlen.stats.median_ci`), and the paired ratios of :data:`PAIRS` — sample ``i`` of every
    model is the same random draw (common random numbers), so the median per-network ratio with its
    interval and a Wilcoxon signed-rank p (:func:`trajlen.stats.paired_ratio`). One row per
    (activation, quantity, what): ``what`` is a model or ``"a / b"``."""
    out = []
    for act in [a for a in ACTIVATIONS if a in set(samples["activation"])]:
        g = samples[samples["activation"] == act]
        by = {m: g[g["model"] == m].set_index("sample") for m in MODELS if (g["model"] == m).any()}
        for q in ("L", "length"):
            for m, t in by.items():
                ci = median_ci(t[q])
                out.append({"activation": act, "quantity": q, "what": m, "estimate": ci.median,
                            "low": ci.low, "high": ci.high, "n": ci.n, "p_wilcoxon": np.nan})
            for a, b in PAIRS:
                if a in by and b in by:
                    both = by[a].index.intersection(by[b].index)
                    r = paired_ratio(by[a].loc[both, q], by[b].loc[both, q])
                    out.append({"activation": act, "quantity": q, "what": f"{a} / {b}",
                                "estimate": r.ratio.median, "low": r.ratio.low, "high": r.ratio.high,
                                "n": r.n, "p_wilcoxon": r.p_wilcoxon})
    return pd.DataFrame(out)


def intervals_markdown(iv: pd.DataFrame) -> str:
    """The intervals table as markdown: one row per activation and quantity, medians and paired
    ratios as ``estimate [low, high]`` (p of the paired Wilcoxon test beside each ratio)."""
    cols = [m for m in MODELS if m in set(iv["what"])] + [f"{a} / {b}" for a, b in PAIRS
                                                         if f"{a} / {b}" in set(iv["what"])]
    head = [plotting.model_name(c) if "/" not in c else " / ".join(plotting.model_name(x)
                                                                   for x in c.split(" / ")) for c in cols]
    lines = ["Medians with 95 % intervals; paired ratios over the same random networks (median ratio "
             "[95 % interval], Wilcoxon p)", "", "| activation | quantity | " + " | ".join(head) + " |",
             "|---|---|" + "---|" * len(cols)]
    for (act, q), g in iv.groupby(["activation", "quantity"], sort=False):
        cells = []
        for c in cols:
            hit = g[g["what"] == c]
            if not len(hit):
                cells.append("—")
                continue
            r = hit.iloc[0]
            cell = f"{r['estimate']:.3g} [{r['low']:.3g}, {r['high']:.3g}]"
            if np.isfinite(r["p_wilcoxon"]):
                cell += f", p = {r['p_wilcoxon']:.2g}"
            cells.append(cell)
        lines.append(f"| {plotting.ACTIVATION_NAMES[act]} | {q} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def with_tau_min(rows: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """Add each network's smallest time constant τ_min (redrawn from its seed): an explicit RK45 step
    cannot exceed a few τ_min, so L of CT-RNN and LTC scales like 1/τ_min — a heavy-tailed quantity."""
    tau = {(r["model"], r["activation"], int(r["sample"])): float(task_of(r).params().tau.min())
           for _, r in rows.iterrows()}
    out = samples.copy()
    out["tau_min"] = [tau[(m, a, int(i))] for m, a, i in zip(out["model"], out["activation"], out["sample"])]
    out["L_times_tau_min"] = out["L"] * out["tau_min"]
    return out


def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
    s = stem(outdir, "table2", semantics)
    samples = with_tau_min(rows, sample_table(rows))
    summary = summary_table(samples, ["activation", "model"])
    summary["L_times_tau_min_median"] = samples.groupby(["activation", "model"])["L_times_tau_min"].median(
    ).reindex(pd.MultiIndex.from_frame(summary[["activation", "model"]])).to_numpy()
    # E[1/τ_min] is infinite, so one tiny-τ draw can carry a cell's mean; the mean without the cell's
    # smallest-τ_min network shows how much (with common random numbers it is the same draw in
    # every cell)
    keys = ["activation", "model"]
    rest = samples.drop(samples.groupby(keys)["tau_min"].idxmin().to_numpy())
    summary["L_mean_without_min_tau"] = rest.groupby(keys)["L"].mean().reindex(
        pd.MultiIndex.from_frame(summary[keys])).to_numpy()
    cmp = comparison(summary)
    files = [plotting.write_table(samples, s.with_suffix(".csv")),
             plotting.write_table(summary, Path(f"{s}_summary.csv")),
             plotting.write_table(cmp, Path(f"{s}_vs_paper.csv"))]
    iv = intervals(samples)
    files.append(plotting.write_table(iv, Path(f"{s}_intervals.csv")))
    md = Path(f"{s}.md")
    md.write_text(markdown(cmp, semantics) + "\n" + intervals_markdown(iv))
    files.append(md)
    plotting.style()
    fig, (ax, ax2) = plotting.plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    order = [a for a in ACTIVATIONS if a in set(samples["activation"])]
    plotting.box_panel(ax, samples, "activation", y="L", xlabel="activation",
                       ylabel="computational depth L", order=order)
    # the paper's means as black ticks over the boxes
    for i, act in enumerate(order):
        for j, m in enumerate(MODELS):
            ax.plot(i + (j - 1) * 0.27, PAPER[(act, m)][0], marker="_", color="k", ms=12, mew=2,
                    label="paper mean" if (i, j) == (0, 0) else None)
    ax.legend(fontsize="small")
    n = int(samples.groupby(["activation", "model"]).size().max())
    ax.set_title(f"Table 2: computational depth L [{semantics}, n = {n}]", fontsize="small")
    plotting.scatter_panel(ax2, samples, "tau_min", "L", xlabel="smallest time constant τ_min",
                           ylabel="computational depth L")
    ax2.set_title("L against τ_min, all activations (log–log)", fontsize="small")
    fig.tight_layout()
    return files + plotting.save(fig, s)


STUDY = Study(
    name="table2",
    title="Table 2: computational depth L per activation and model (k=100, 1 layer)",
    grid={"model": MODELS, "activation": ACTIVATIONS, "width": [100], "depth": [1],
          "sigma_w2": [2.0], "sigma_b2": [1.0], "method": ["RK45"], "rtol": [1e-2], "atol": [1e-4]},
    samples=100,
    draw=draw,
    quick_samples=2,
    quick_grid={"width": [10]},
    notes="Reference semantics use MATLAB ode45's controller and Refine 4 (the default backend "
          "'auto' runs RK45 on the compiled numba kernel, which has both controllers) "
          "(what produced the paper's numbers); L = output points in (0, 2π] / 100 (SPEC §2).",
)
