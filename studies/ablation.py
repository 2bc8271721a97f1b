"""Ablation — from the authors' code (reference semantics) to the paper's text, one switch at a time.

Starting from the reference semantics at the Table 2 setting (k = 100, 1 layer, σ_w² = 2, σ_b² = 1,
RK45, rtol 1e-2, atol 1e-4, the default backend ``auto``: the numba kernel), each step switches one
more difference of SPEC §1b to the paper's choice, cumulatively; the last step is the paper semantics
in full. Parameters use common random numbers (trajlen.params), so every step integrates the same
random networks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trajlen import plotting
from trajlen.spec import SEMANTICS
from trajlen.study import Study

from ._draw import caption, stem
from ._tables import paired_table, sample_table, summary_table
from .table2 import SETTING

_P = {**SEMANTICS["paper"]["network"], "input_kind": SEMANTICS["paper"]["input"]["kind"],
      **SEMANTICS["paper"]["solver"]}
#: (label, fields switched at this step), in the order the issue lists them.
SWITCHES = [
    ("reference", ()),
    ("+weight_init", ("weight_init",)),
    ("+hardtanh", ("hardtanh",)),
    ("+recurrence", ("recurrence",)),
    ("+ltc_decay", ("ltc_decay",)),
    ("+ltc_A", ("ltc_A",)),
    ("+input_kind", ("input_kind",)),
    ("+controller/output/refine", ("controller", "output", "refine")),
]
STEPS = [label for label, _ in SWITCHES]


def _points() -> list[dict]:
    out, acc = [], {}
    for _, names in SWITCHES:
        acc = {**acc, **{n: _P[n] for n in names}}
        out.append(dict(acc))
    return out


POINTS = _points()


def step_of(row: pd.Series) -> str:
    """The last ablation step whose switches the row has all at the paper's values (cumulatively)."""
    label = STEPS[0]
    for (name, names) in SWITCHES[1:]:
        if all(str(row[n]) == str(_P[n]) for n in names):
            label = name
        else:
            break
    return label


def advantage(samples: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """The LTC's advantage per activation and step: the ratio of median lengths (``ltc_over_node``,
    ``ltc_over_ctrnn``) and, since every step and model integrates the same random networks, the
    paired per-network ratio's median with its 95 % interval and Wilcoxon p
    (:func:`studies._tables.paired_table`; columns ``*_paired``, ``*_low``, ``*_high``, ``*_p``)."""
    keys = ["activation", "step_index", "step"]
    paired = paired_table(samples, keys, y="length").set_index([*keys, "ratio"])
    out = []
    for (act, idx, step), g in summary.groupby(keys, sort=True):
        med = dict(zip(g["model"], g["length_median"]))
        rec = {"activation": act, "step_index": idx, "step": step}
        for other in ("node", "ctrnn"):
            rec[f"ltc_over_{other}"] = med.get("ltc", np.nan) / med.get(other, np.nan)
            r = paired.loc[(act, idx, step, f"ltc/{other}")]
            rec.update({f"ltc_over_{other}_paired": r["ratio_median"], f"ltc_over_{other}_low": r["ratio_lo"],
                        f"ltc_over_{other}_high": r["ratio_hi"], f"ltc_over_{other}_p": r["p_wilcoxon"]})
        out.append(rec)
    return pd.DataFrame(out)


def draw(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
    s = stem(outdir, "ablation", semantics)
    samples = sample_table(rows)
    samples.insert(0, "step", [step_of(r) for _, r in samples.iterrows()])
    samples["step_index"] = [STEPS.index(x) for x in samples["step"]]
    samples = samples.sort_values(["activation", "step_index", "model", "sample"],
                                  kind="stable").reset_index(drop=True)
    summary = summary_table(samples, ["activation", "step_index", "step", "model"])
    adv = advantage(samples, summary)
    files = [plotting.write_table(samples, s.with_suffix(".csv")),
             plotting.write_table(summary, Path(f"{s}_summary.csv")),
             plotting.write_table(adv, Path(f"{s}_ltc_advantage.csv"))]
    plotting.style()
    acts = [a for a in ("tanh", "sigmoid", "relu", "hardtanh") if a in set(samples["activation"])]
    fig, axes = plotting.plt.subplots(len(acts), 2, figsize=(10, 2.6 * len(acts) + 0.8), squeeze=False,
                                      sharex=True)
    order = [x for x in STEPS if x in set(samples["step"])]
    for i, act in enumerate(acts):
        d = samples[samples["activation"] == act]
        last = i == len(acts) - 1
        plotting.step_panel(axes[i, 0], d, "length", order, logy=True, ylabel="trajectory length",
                            legend=False, xticklabels=last)
        plotting.step_panel(axes[i, 1], d, "L", order, logy=True, ylabel="computational depth L",
                            legend=i == 0, xticklabels=last)
        for ax in axes[i]:
            ax.set_title(plotting.ACTIVATION_NAMES[act], fontsize="small")
    plotting.suptitle(fig, caption("Ablation: reference → paper semantics, one switch at a time "
                                   "(cumulative); median and IQR per step", samples, semantics,
                                   ["activation", "step", "output", "refine", "controller"],
                                   unit="marker"))
    fig.tight_layout()
    return files + plotting.save(fig, s)


STUDY = Study(
    name="ablation",
    title="Ablation: reference → paper semantics, one switch at a time (Table 2 setting)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["tanh", "sigmoid", "relu", "hardtanh"],
          **SETTING},
    samples=100,
    draw=draw,
    points=POINTS,
    semantics=("reference",),
    quick_grid={"width": [10], "activation": ["tanh", "hardtanh"]},
    notes="Runs under the reference semantics only: each step overrides switches with the paper's "
          "values; the last step equals the paper semantics.",
)
