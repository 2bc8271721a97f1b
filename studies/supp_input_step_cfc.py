"""CfC trajectory length vs the input step δt = 2π/(n − 1), beside the LTC's (issue 17).

The CfC (ncps's closed-form cell, default mode, :mod:`trajlen.models.cfc`) is a map over the input
samples with elapsed time δt: its computational depth is the number of samples n, so the natural
question is how its length moves with n. Beside it: the paper's LTC (tanh) and the ncps LTC
(conductance form, sigmoid synapses), ODEs solved by RK45 whose input is the same n sampled points
linearly interpolated. One layer of k = 100 units, n ∈ {32, 64, 315, 629, 6284} (δt ≈ 0.203, 0.0997,
0.0200, 0.0100, 0.0010).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trajlen import plotting
from trajlen.study import Study

from ._draw import stem, summary_files
from .supp_input_step import N_SAMPLES


def markdown(summary: pd.DataFrame, semantics: str) -> str:
    """Median length [Q1, Q3] per model and n, and the ratio of the medians at the largest and the
    smallest n (how far the length moves over a 200-fold finer input step)."""
    ns = sorted(summary["n_samples"].unique())
    nets = int(summary["n"].max())
    lines = [f"Trajectory length vs input samples n ({semantics} semantics, {nets} networks per cell): "
             "median [Q1, Q3]", "",
             "| model | " + " | ".join(f"n = {n}" for n in ns) + f" | median ratio n={ns[-1]} / n={ns[0]} |",
             "|---|" + "---|" * (len(ns) + 1)]
    for model in [m for m in plotting.MODEL_ORDER if m in set(summary["model"])]:
        d = summary[summary["model"] == model].set_index("n_samples")
        cells = [f"{d.loc[n, 'length_median']:.3g} [{d.loc[n, 'length_q1']:.3g}, {d.loc[n, 'length_q3']:.3g}]"
                 if n in d.index else "—" for n in ns]
        ratio = (d.loc[ns[-1], "length_median"] / d.loc[ns[0], "length_median"]
                 if ns[-1] in d.index and ns[0] in d.index else np.nan)
        lines.append(f"| {plotting.model_name(model)} | " + " | ".join(cells) + f" | {ratio:.3g} |")
    return "\n".join(lines) + "\n"


def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
    s = stem(outdir, "supp_input_step_cfc", semantics)
    samples, summary, files = summary_files(rows, s, ["model", "n_samples"], semantics, markdown)
    plotting.style()
    fig, ax = plotting.plt.subplots(figsize=(8, 3.8))
    order = sorted(samples["n_samples"].unique())
    plotting.box_panel(ax, samples, "n_samples", xlabel="input samples n per period (input step δt)",
                       order=order)
    ax.set_xticks(range(len(order)), [f"n = {n}\nδt = {2 * np.pi / (n - 1):.3g}" for n in order])
    n = int(samples.groupby(["model", "n_samples"]).size().max())
    ax.set_title(f"trajectory length vs input step, k = 100 [{semantics}, n = {n} networks per box]",
                 fontsize="small")
    fig.tight_layout()
    return files + plotting.save(fig, s)


STUDY = Study(
    name="supp_input_step_cfc",
    title="CfC trajectory length vs input step size, beside the LTC and the ncps LTC (k=100, 1 layer)",
    grid={"input_kind": ["samples"], "n_samples": N_SAMPLES, "width": [100], "depth": [1]},
    points=[{"model": "ltc", "activation": "tanh"}, {"model": "ltc_ncps", "activation": "sigmoid"},
            {"model": "cfc", "activation": "lecun_tanh"}],
    samples=100,
    draw=draw,
    quick_grid={"width": [10], "n_samples": [32, 629]},
    notes="The CfC runs ncps's default mode, backbone (128 units, 1 layer) and LeCun tanh; the LTC "
          "tanh as in supp_input_step.",
)
