"""λ_max vs the weight variance σ_w², beside the trajectory length (issue 17): does the length track
the onset of chaos?

Every model with a vector field and a σ_w² (the paper's N-ODE, CT-RNN and LTC; tanh, one layer of
k = 100 units, σ_b² = 1, Table 2's input and RK45 at rtol 1e-2 for the length) at σ_w² ∈ {0.5, 1, 2,
4, 8}. ``lyap_max`` is the largest conditional Lyapunov exponent of the driven network over the input
period [0, 2π] from x(0) = 0 (:mod:`trajlen.lyapunov`: tangent-space integration with QR every 0.1
time units on the analytic Jacobian, DOP853 at rtol 1e-8): a finite-time exponent along the very
trajectory whose length the row records. λ_max > 0: nearby trajectories separate (the driven
network is chaotic over that period); < 0: they converge (the state is slaved to the input).

Under the reference semantics (the original code) the N-ODE and the CT-RNN have no recurrent term:
their Jacobians are 0 and −diag(1/τ), so λ_max = 0 and −1/τ_max exactly, whatever σ_w² — the study
measures that as a check of the exponent code, not as a finding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from trajlen import plotting
from trajlen.study import Study

from ._draw import sample_table, stem, summary_table

MODELS = ["node", "ctrnn", "ltc"]
SIGMA_W2 = [0.5, 1.0, 2.0, 4.0, 8.0]
#: |λ_max| below this is zero (round-off: the reference N-ODE's exact 0 comes out as 5e-16)
ZERO_TOL = 1e-9


def lyap_summary(samples: pd.DataFrame) -> pd.DataFrame:
    """Per (model, σ_w²): the length summary (:func:`summary_table`) with λ_max's median, quartiles
    and the fraction of networks with λ_max > 0."""
    summary = summary_table(samples, ["model", "sigma_w2"])
    ok = samples[(samples["status"] == "ok") & np.isfinite(samples["lyap_max"].astype(float))]
    g = ok.groupby(["model", "sigma_w2"])["lyap_max"]
    extra = pd.DataFrame({"lyap_n": g.size(), "lyap_median": g.median(), "lyap_q1": g.quantile(0.25),
                          "lyap_q3": g.quantile(0.75),
                          "lyap_frac_positive": g.apply(lambda v: (v > ZERO_TOL).mean())})
    return summary.merge(extra.reset_index(), on=["model", "sigma_w2"], how="left")


def verdicts(samples: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per model: the smallest σ_w² whose median λ_max is > 0 (> ZERO_TOL: the measured onset),
    the median length just below and at it, and Spearman's ρ between λ_max and the length over all
    networks."""
    out = []
    ok = samples[(samples["status"] == "ok") & np.isfinite(samples["lyap_max"].astype(float))]
    for model in [m for m in MODELS if m in set(summary["model"])]:
        d = summary[summary["model"] == model].sort_values("sigma_w2")
        pos = d[d["lyap_median"] > ZERO_TOL]
        onset = float(pos["sigma_w2"].iloc[0]) if len(pos) else np.nan
        below = d[d["sigma_w2"] < onset]
        o = ok[ok["model"] == model]
        # round-off is no variation: the reference CT-RNN's λ_max is −1/τ_max exactly, and its
        # computed values differ in the last bits from one CPU class to another
        varies = len(o) > 1 and float(o["lyap_max"].max() - o["lyap_max"].min()) > ZERO_TOL
        rho, p = stats.spearmanr(o["lyap_max"], o["length"]) if varies else (np.nan, np.nan)
        out.append({"model": model, "onset_sigma_w2": onset,
                    "length_median_below": (float(below["length_median"].iloc[-1]) if len(below)
                                            else np.nan),
                    "length_median_at_onset": float(pos["length_median"].iloc[0]) if len(pos) else np.nan,
                    "lyap_range": f"{d['lyap_median'].min():.3g} .. {d['lyap_median'].max():.3g}",
                    "length_ratio_max_min_sigma": float(d["length_median"].iloc[-1]
                                                        / d["length_median"].iloc[0]),
                    "spearman_lyap_length": rho, "spearman_p": p, "n_networks": len(o)})
    return pd.DataFrame(out)


def markdown(summary: pd.DataFrame, verdict: pd.DataFrame, semantics: str) -> str:
    lines = [f"λ_max and trajectory length vs σ_w² ({semantics} semantics; tanh, k = 100, σ_b² = 1; "
             f"networks per point: {int(summary['n'].min())}–{int(summary['n'].max())})", "",
             "| model | σ_w² | λ_max median [Q1, Q3] | λ_max > 0 | length median [Q1, Q3] | n |",
             "|---|---|---|---|---|---|"]
    for _, r in summary.iterrows():
        lines.append(f"| {plotting.model_name(r['model'])} | {r['sigma_w2']:g} | {r['lyap_median']:.3g} "
                     f"[{r['lyap_q1']:.3g}, {r['lyap_q3']:.3g}] | {r['lyap_frac_positive']:.0%} | "
                     f"{r['length_median']:.3g} [{r['length_q1']:.3g}, {r['length_q3']:.3g}] | "
                     f"{int(r['n'])} |")
    lines += ["", "Per model: the smallest σ_w² with median λ_max > 0 (measured onset), the median length "
              "just below and at it, the ratio of median lengths at σ_w² = 8 and 0.5, and Spearman's ρ "
              "between λ_max and length over all its networks (— where λ_max varies by no more than "
              "round-off).", "",
              "| model | onset σ_w² | length below → at onset | length ratio 8 / 0.5 | ρ(λ_max, length) "
              "| p |",
              "|---|---|---|---|---|---|"]
    for _, v in verdict.iterrows():
        onset = "none in range" if not np.isfinite(v["onset_sigma_w2"]) else f"{v['onset_sigma_w2']:g}"
        jump = (f"{v['length_median_below']:.3g} → {v['length_median_at_onset']:.3g}"
                if np.isfinite(v["length_median_below"]) and np.isfinite(v["length_median_at_onset"])
                else "—")
        lines.append(f"| {plotting.model_name(v['model'])} | {onset} | {jump} | "
                     f"{v['length_ratio_max_min_sigma']:.3g} | {_num(v['spearman_lyap_length'], '.2f')} | "
                     f"{_num(v['spearman_p'], '.2g')} |")
    return "\n".join(lines) + "\n"


def _num(v: float, fmt: str) -> str:
    return "—" if not np.isfinite(v) else format(v, fmt)


def _band(ax, summary: pd.DataFrame, col: str, ylabel: str, logy: bool) -> None:
    for model in [m for m in MODELS if m in set(summary["model"])]:
        d = summary[summary["model"] == model].sort_values("sigma_w2")
        c = plotting.PALETTE[plotting.model_name(model)]
        ax.plot(d["sigma_w2"], d[f"{col}_median"], marker="o", color=c, label=plotting.model_name(model))
        ax.fill_between(d["sigma_w2"], d[f"{col}_q1"], d[f"{col}_q3"], color=c, alpha=0.2, linewidth=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(SIGMA_W2, [f"{v:g}" for v in SIGMA_W2])
    ax.minorticks_off()
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("weight variance σ_w²")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")


def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
    s = stem(outdir, "lyap_sigma", semantics)
    samples = sample_table(rows, extra=["lyap_max"])
    summary = lyap_summary(samples)
    verdict = verdicts(samples, summary)
    files = [plotting.write_table(samples, s.with_suffix(".csv")),
             plotting.write_table(summary, Path(f"{s}_summary.csv")),
             plotting.write_table(verdict, Path(f"{s}_verdict.csv"))]
    md = Path(f"{s}.md")
    md.write_text(markdown(summary, verdict, semantics))
    files.append(md)
    plotting.style()
    fig, (a1, a2, a3) = plotting.plt.subplots(1, 3, figsize=(13, 3.6))
    lo, hi = int(summary["n"].min()), int(summary["n"].max())
    n = f"n = {lo}" + (f"–{hi}" if hi > lo else "")
    _band(a1, summary, "lyap", "λ_max (1/time), median and IQR", logy=False)
    a1.axhline(0.0, color="k", lw=0.8, ls="--")
    a1.set_title(f"largest conditional Lyapunov exponent [{semantics}, {n}]", fontsize="small")
    _band(a2, summary, "length", "trajectory length (log), median and IQR", logy=True)
    a2.set_title(f"trajectory length [{semantics}, {n}]", fontsize="small")
    plotting.scatter_panel(a3, samples, "lyap_max", "length", xlabel="λ_max per network",
                           ylabel="trajectory length", logx=False)
    a3.axvline(0.0, color="k", lw=0.8, ls="--")
    a3.set_title("length against λ_max, every network", fontsize="small")
    fig.tight_layout()
    return files + plotting.save(fig, s)


STUDY = Study(
    name="lyap_sigma",
    title="Largest Lyapunov exponent vs σ_w² beside the trajectory length (tanh, k=100, 1 layer)",
    grid={"model": MODELS, "activation": ["tanh"], "width": [100], "depth": [1], "sigma_w2": SIGMA_W2,
          "sigma_b2": [1.0], "method": ["RK45"], "rtol": [1e-2], "atol": [1e-4], "lyapunov": [1]},
    samples=100,
    draw=draw,
    quick_samples=2,
    quick_grid={"width": [6], "sigma_w2": [0.5, 8.0]},
    notes="λ_max over one input period from x(0) = 0 (finite-time, conditional on the input). The ncps "
          "LTC has no σ_w² (its own initialisation) and the CfC no vector field: neither is here.",
)
