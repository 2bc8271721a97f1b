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
from trajlen.stats import median_ci
from trajlen.study import Study

from ._draw import caption, stem, task_of
from ._tables import paired_table, sample_table, summary_table

ACTIVATIONS = ["tanh", "sigmoid", "relu", "hardtanh"]
#: fewer networks than this per cell give no yes/no verdict against the paper
MIN_VERDICT_N = 10
MODELS = ["node", "ctrnn", "ltc"]
#: Table 2's setting (SPEC §5): one layer of k = 100, σ_w² = 2, σ_b² = 1 (variances), RK45 at rtol
#: 1e-2, atol 1e-4 — the grid of every study run "at Table 2's setting"
SETTING = {"width": [100], "depth": [1], "sigma_w2": [2.0], "sigma_b2": [1.0], "method": ["RK45"],
           "rtol": [1e-2], "atol": [1e-4]}
#: networks per cell behind the paper's Table 2 (SPEC §5)
PAPER_N = 100

#: Table 2 of the paper (mean, std), SPEC §5.
PAPER = {
    ("tanh", "node"): (0.56, 0.016), ("tanh", "ctrnn"): (4.13, 2.19), ("tanh", "ltc"): (9.19, 2.92),
    ("sigmoid", "node"): (0.56, 0.00), ("sigmoid", "ctrnn"): (5.33, 3.76), ("sigmoid", "ltc"): (7.00, 5.36),
    ("relu", "node"): (1.29, 0.10), ("relu", "ctrnn"): (4.31, 2.05), ("relu", "ltc"): (56.9, 9.03),
    ("hardtanh", "node"): (0.61, 0.02), ("hardtanh", "ctrnn"): (4.05, 2.17),
    ("hardtanh", "ltc"): (81.01, 10.05),
}


def comparison(summary: pd.DataFrame) -> pd.DataFrame:
    """Our L beside the paper's, with three statements.

    * ``welch_p``: Welch's two-sample t-test of our mean ± std (n) against the paper's (n = 100),
      ``scipy.stats.ttest_ind_from_stats`` — the test the paper's summary allows (heavy tails make it
      lenient: a large std widens it);
    * ``paper_mean_in_median_ci``: the paper's mean lies in the 95 % order-statistic interval of our
      median (for a symmetric distribution mean and median agree);
    * ``within_paper_std`` / ``median_within_paper_std``: our mean / median inside the paper's mean ± std
      (descriptive, not a test).
    """
    from scipy import stats

    out = []
    for act in ACTIVATIONS:
        for m in MODELS:
            hit = summary[(summary["activation"] == act) & (summary["model"] == m)]
            pm, ps = PAPER[(act, m)]
            rec = {"activation": act, "model": m, "paper_mean": pm, "paper_std": ps}
            if len(hit):
                h = hit.iloc[0]
                rec.update({c: h.get(c, np.nan) for c in (
                    "L_mean", "L_std", "L_median", "L_median_lo", "L_median_hi", "L_q1", "L_q3",
                    "length_median", "length_median_lo", "length_median_hi", "length_full_median",
                    "L_mean_without_min_tau")})
                rec.update(n=int(h["n"]), n_failed=int(h["n_failed"]))
                n_ok = rec["n"] - rec["n_failed"]
                rec["welch_p"] = float(stats.ttest_ind_from_stats(
                    rec["L_mean"], rec["L_std"], n_ok, pm, ps, PAPER_N, equal_var=False).pvalue) \
                    if n_ok > 1 and (rec["L_std"] > 0 or ps > 0) else np.nan
                rec["paper_mean_in_median_ci"] = bool(rec["L_median_lo"] <= pm <= rec["L_median_hi"]) \
                    if np.isfinite(rec["L_median_lo"]) else None
                # the paper prints two decimals: compare our mean at that precision, so that a
                # float sum of 100 equal L (0.56 + 2e-16) is not "outside 0.56 ± 0.00"
                rec["within_paper_std"] = bool(abs(round(rec["L_mean"], 2) - pm) <= ps)
                rec["median_within_paper_std"] = bool(abs(round(rec["L_median"], 2) - pm) <= ps)
            out.append(rec)
    return pd.DataFrame(out)


def _verdicts(r: pd.Series) -> tuple[str, str]:
    if int(r["n"]) < MIN_VERDICT_N:   # e.g. --quick: a smoke run, no verdict
        return (f"n = {int(r['n'])}: not a test",) * 2
    p = r["welch_p"]
    welch = "—" if pd.isna(p) else (f"{p:.2g}" if p >= 0.05 else f"**{p:.2g}**")
    in_ci = "yes" if r["paper_mean_in_median_ci"] else "**no**"
    return welch, in_ci


def markdown(cmp: pd.DataFrame, semantics: str) -> str:
    lines = [f"Table 2 — computational depth L ({semantics} semantics): ours beside the paper's",
             "", "Welch p: our mean ± std (n) against the paper's (n = 100); bold below 0.05. "
             "Median interval: 95 % order-statistic interval.", "",
             "| activation | model | paper mean ± std | ours mean ± std | Welch p | ours median [95 % CI] | "
             "paper mean in our median's CI | ours Q1–Q3 | n |", "|---|---|---|---|---|---|---|---|---|"]
    for _, r in cmp.iterrows():
        if "L_mean" not in r or pd.isna(r.get("L_mean")):
            ours, med, iqr, n, welch, in_ci = "—", "—", "—", "0", "—", "—"
        else:
            ours = f"{r['L_mean']:.3g} ± {r['L_std']:.3g}"
            med = (f"{r['L_median']:.3g} [{r['L_median_lo']:.3g}, {r['L_median_hi']:.3g}]"
                   if np.isfinite(r["L_median_lo"]) else f"{r['L_median']:.3g}")
            iqr = f"{r['L_q1']:.3g}–{r['L_q3']:.3g}"
            n = f"{int(r['n'])}" + (f" ({int(r['n_failed'])} failed)" if r["n_failed"] else "")
            welch, in_ci = _verdicts(r)
        lines.append(f"| {plotting.ACTIVATION_NAMES[r['activation']]} | {plotting.model_name(r['model'])} | "
                     f"{r['paper_mean']:.3g} ± {r['paper_std']:.3g} | {ours} | {welch} | {med} | {in_ci} | "
                     f"{iqr} | {n} |")
    return "\n".join(lines) + "\n"


#: the paired comparisons of one activation's models (numerator, denominator), in the table's order
PAIRS = [("ltc", "ctrnn"), ("ltc", "node"), ("ctrnn", "node")]


def intervals(samples: pd.DataFrame) -> pd.DataFrame:
    """Per activation: each model's median L and length with its 95 % order-statistic interval
    (:func:`trajlen.stats.median_ci`), and the paired ratios of :data:`PAIRS` — sample ``i`` of every
    model is the same random draw (common random numbers), so the median per-network ratio with its
    interval and a Wilcoxon signed-rank p (:func:`studies._tables.paired_table`). One row per
    (activation, quantity, what): ``what`` is a model or ``"a / b"``."""
    out = []
    paired = {q: paired_table(samples, ["activation"], y=q) for q in ("L", "length")}
    for act in [a for a in ACTIVATIONS if a in set(samples["activation"])]:
        g = samples[samples["activation"] == act]
        for q in ("L", "length"):
            for m in [m for m in MODELS if (g["model"] == m).any()]:
                ci = median_ci(g.loc[g["model"] == m, q])
                out.append({"activation": act, "quantity": q, "what": m, "estimate": ci.median,
                            "low": ci.low, "high": ci.high, "n": ci.n, "p_wilcoxon": np.nan})
            pq = paired[q]
            for a, b in PAIRS:
                hit = pq[(pq["activation"] == act) & (pq["ratio"] == f"{a}/{b}")] if len(pq) else pq
                for _, r in hit.iterrows():
                    out.append({"activation": act, "quantity": q, "what": f"{a} / {b}",
                                "estimate": r["ratio_median"], "low": r["ratio_lo"],
                                "high": r["ratio_hi"], "n": int(r["n_pairs"]),
                                "p_wilcoxon": r["p_wilcoxon"]})
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
    """Each network's smallest time constant τ_min (the row's ``tau_min``; redrawn from its seed for
    rows that lack it): an explicit RK45 step cannot exceed a few τ_min, so L of CT-RNN and LTC scales
    like 1/τ_min — a heavy-tailed quantity."""
    out = samples.copy()
    if "tau_min" not in out.columns or out["tau_min"].isna().any():
        tau = {(r["model"], r["activation"], int(r["sample"])): float(task_of(r).params().tau.min())
               for _, r in rows.iterrows()}
        out["tau_min"] = [tau[(m, a, int(i))] for m, a, i in
                          zip(out["model"], out["activation"], out["sample"])]
    out["L_times_tau_min"] = out["L"] * out["tau_min"]
    return out


def _summary(samples: pd.DataFrame) -> pd.DataFrame:
    """The summary table plus the median of L·τ_min and the mean of L without the cell's
    smallest-τ_min network (E[1/τ_min] is infinite, so one tiny-τ draw can carry a cell's mean; with
    common random numbers it is the same draw in every cell)."""
    keys = ["activation", "model"]
    summary = summary_table(samples, keys)
    idx = pd.MultiIndex.from_frame(summary[keys])
    summary["L_times_tau_min_median"] = samples.groupby(keys)["L_times_tau_min"].median(
    ).reindex(idx).to_numpy()
    rest = samples.drop(samples.groupby(keys)["tau_min"].idxmin().to_numpy())
    summary["L_mean_without_min_tau"] = rest.groupby(keys)["L"].mean().reindex(idx).to_numpy()
    return summary


def _figure(samples: pd.DataFrame, semantics: str):
    plotting.style()
    fig, (ax, ax2) = plotting.plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    order = [a for a in ACTIVATIONS if a in set(samples["activation"])]
    plotting.box_panel(ax, samples, "activation", y="L", xlabel="activation",
                       ylabel="computational depth L", order=order, legend=False)
    ax.set_xticks(range(len(order)), [plotting.ACTIVATION_NAMES[a] for a in order])
    # the paper's means, drawn over the boxes (zorder) as white-edged diamonds: a black tick sat on
    # the black median line and vanished
    for i, act in enumerate(order):
        for j, m in enumerate(MODELS):
            ax.plot(i + (j - 1) * 0.267, PAPER[(act, m)][0], marker="D", color="crimson", ms=5,
                    mec="white", mew=0.8, ls="none", zorder=10,
                    label="paper mean" if (i, j) == (0, 0) else None)
    ax.set_title("L per network (box: quartiles; whiskers 1.5 IQR)", fontsize="small")
    plotting.scatter_panel(ax2, samples, "tau_min", "L", xlabel="smallest time constant τ_min (log)",
                           ylabel="computational depth L (log)", legend=False)
    ax2.set_title("L against τ_min, all activations", fontsize="small")
    h, lab = ax2.get_legend_handles_labels()
    h2, lab2 = ax.get_legend_handles_labels()
    keep = [i for i, name in enumerate(lab2) if name == "paper mean"]
    ax2.legend(h + [h2[i] for i in keep], lab + [lab2[i] for i in keep], fontsize="small",
               loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    plotting.suptitle(fig, caption("Table 2: computational depth L = Refine × accepted steps / 100 "
                                   "input samples", samples, semantics, ["activation"], unit="box"))
    fig.tight_layout()
    return fig


def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
    s = stem(outdir, "table2", semantics)
    samples = with_tau_min(rows, sample_table(rows))
    summary = _summary(samples)
    cmp = comparison(summary)
    files = [plotting.write_table(samples, s.with_suffix(".csv")),
             plotting.write_table(summary, Path(f"{s}_summary.csv")),
             plotting.write_table(cmp, Path(f"{s}_vs_paper.csv"))]
    paired = paired_table(samples, ["activation", "model"], y="L")
    if not paired.empty:
        files.append(plotting.write_table(paired, Path(f"{s}_paired.csv")))
    iv = intervals(samples)
    files.append(plotting.write_table(iv, Path(f"{s}_intervals.csv")))
    md = Path(f"{s}.md")
    md.write_text(markdown(cmp, semantics) + "\n" + intervals_markdown(iv))
    files.append(md)
    return files + plotting.save(_figure(samples, semantics), s)


STUDY = Study(
    name="table2",
    title="Table 2: computational depth L per activation and model (k=100, 1 layer)",
    grid={"model": MODELS, "activation": ACTIVATIONS, **SETTING},
    samples=100,
    draw=draw,
    quick_samples=2,
    quick_grid={"width": [10]},
    notes="Reference semantics use MATLAB ode45's controller and Refine 4 (the default backend "
          "'auto' runs RK45 on the compiled numba kernel, which has both controllers) "
          "(what produced the paper's numbers); L = output points in (0, 2π] / 100 (SPEC §2).",
)
