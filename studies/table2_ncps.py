"""The models people train beside the paper's three at Table 2's setting (issue 17): the ``ncps``
library's LTC (conductance form, ncps's own initialisation; :mod:`trajlen.models.ltc_ncps`) and its
closed-form CfC (:mod:`trajlen.models.cfc`), one layer of k = 100 units, the paper's input, RK45 at
rtol 1e-2, atol 1e-4 for the ODEs (σ_w² = 2, σ_b² = 1 for the paper's models; the ncps models draw
their own weights).

Each model takes the activations it has: the paper's models the four of Table 2; the ncps LTC only
its sigmoid synapses; the CfC ncps's default LeCun tanh and, of Table 2's, tanh and ReLU. The CfC is
a map over the input samples, not an ODE: its trajectory is the hidden state at the 100 sample
times and it has no solver steps, so its L is undefined (NaN) — its computational depth is the
number of input samples by construction; the trajectory length is compared for all five.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trajlen import plotting
from trajlen.study import Study

from ._draw import stem, summary_files
from .table2 import SETTING

MODELS = ["node", "ctrnn", "ltc", "ltc_ncps", "cfc"]
ACTIVATIONS = ["tanh", "sigmoid", "relu", "hardtanh", "lecun_tanh"]


def _cell(s: pd.Series, col: str) -> str:
    if not np.isfinite(s.get(f"{col}_median", np.nan)):
        return "—"
    return f"{s[f'{col}_median']:.3g} [{s[f'{col}_q1']:.3g}, {s[f'{col}_q3']:.3g}]"


def markdown(summary: pd.DataFrame, semantics: str) -> str:
    """The summary as a table: length and L, median [Q1, Q3], per activation and model."""
    n = int(summary["n"].max())
    lines = [f"ncps LTC and CfC beside the paper's models at Table 2's setting ({semantics} semantics, "
             f"n = {n} networks per cell)", "",
             "| activation | model | length median [Q1, Q3] | L median [Q1, Q3] | n | failed |",
             "|---|---|---|---|---|---|"]
    order = {m: i for i, m in enumerate(MODELS)}
    summary = summary.assign(_a=summary["activation"].map(ACTIVATIONS.index),
                             _o=summary["model"].map(order)).sort_values(["_a", "_o"])
    for _, r in summary.iterrows():
        lines.append(f"| {plotting.ACTIVATION_NAMES.get(r['activation'], r['activation'])} | "
                     f"{plotting.model_name(r['model'])} | {_cell(r, 'length')} | {_cell(r, 'L')} | "
                     f"{int(r['n'])} | {int(r['n_failed'])} |")
    lines += ["", "L of the CfC is undefined (a map over the 100 input samples: no solver steps).", "",
              "Median length of each ncps model over the paper's LTC and N-ODE of the same activation:", ""]
    med = summary.set_index(["activation", "model"])["length_median"]
    for model in ("ltc_ncps", "cfc"):
        for act in [a for a in ACTIVATIONS if (a, model) in med.index]:
            base = {m: med.get((act, m), np.nan) for m in ("ltc", "node")}
            if np.isfinite(base["ltc"]):
                lines.append(f"- {plotting.model_name(model)}, {act}: {med[(act, model)]:.3g} = "
                             f"{med[(act, model)] / base['ltc']:.3g} × LTC ({base['ltc']:.3g}), "
                             f"{med[(act, model)] / base['node']:.3g} × Neural ODE ({base['node']:.3g})")
    return "\n".join(lines) + "\n"


def _pairs_panel(ax, samples: pd.DataFrame, y: str, ylabel: str) -> None:
    """One box per (activation, model) present, coloured by model, grouped by activation (log y):
    seaborn's dodge would leave a slot for every model at every activation."""
    import seaborn as sns

    d = samples[np.isfinite(samples[y].astype(float))].copy()
    order = {m: i for i, m in enumerate(MODELS)}
    keys = sorted({(a, m) for a, m in zip(d["activation"], d["model"])},
                  key=lambda k: (ACTIVATIONS.index(k[0]), order[k[1]]))
    name = {k: f"{plotting.model_name(k[1])}\n{plotting.ACTIVATION_NAMES.get(k[0], k[0])}" for k in keys}
    d["pair"] = [name[(a, m)] for a, m in zip(d["activation"], d["model"])]
    d["Model"] = [plotting.model_name(m) for m in d["model"]]
    sns.boxplot(data=d, x="pair", y=y, hue="Model", order=[name[k] for k in keys], dodge=False,
                hue_order=[plotting.model_name(m) for m in MODELS if m in set(d["model"])],
                palette=plotting.PALETTE, ax=ax, fliersize=2, linewidth=0.8, log_scale=True)
    for i in range(1, len(keys)):   # a rule between activations
        if keys[i][0] != keys[i - 1][0]:
            ax.axvline(i - 0.5, color="0.6", lw=0.8)
    ax.set_xlabel("")
    ax.set_ylabel(ylabel + " (log)")
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(title=None, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)


def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
    s = stem(outdir, "table2_ncps", semantics)
    samples, summary, files = summary_files(rows, s, ["activation", "model"], semantics, markdown)
    plotting.style()
    fig, (ax, ax2) = plotting.plt.subplots(2, 1, figsize=(12, 7.5))
    n = int(samples.groupby(["activation", "model"]).size().max())
    _pairs_panel(ax, samples, "length", "trajectory length")
    ax.set_title(f"trajectory length, k = 100, Table 2's setting [{semantics}, n = {n} per box]",
                 fontsize="small")
    _pairs_panel(ax2, samples[samples["model"] != "cfc"], "L", "computational depth L")
    ax2.set_title(f"computational depth L of the ODEs (the CfC runs no solver) [{semantics}, "
                  f"n = {n} per box]", fontsize="small")
    fig.tight_layout()
    return files + plotting.save(fig, s)


STUDY = Study(
    name="table2_ncps",
    title="ncps LTC and CfC beside the paper's three models at Table 2's setting (k=100, 1 layer)",
    grid={"model": MODELS, "activation": ACTIVATIONS, **SETTING},
    samples=100,
    draw=draw,
    quick_samples=2,
    quick_grid={"width": [10]},
    notes="σ labels apply to the paper's models only (the ncps models' rows have null σ); the CfC "
          "runs ncps's default mode and backbone (128 units, 1 layer).",
)
