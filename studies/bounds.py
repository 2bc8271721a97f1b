"""Theorems 4–5 (and Raghu et al.'s static bound) against measured lengths — SPEC §4.

Three studies, each walking one sweep axis at a time from a base point (``points``), so that the
growth exponent in k, σ_w and depth can be fitted with the other two held fixed:

* ``bounds`` — N-ODE, CT-RNN, LTC with hard-tanh under ``semantics="paper"`` (weights N(0, σ_w²/k):
  the theorems' own assumption). Base k = 50, σ_w² = 2, σ_b² = 1, 1 layer; widths 10–100, σ_w² 1–8,
  depth 1–4. (The paper's Fig. 3 base is k = 100 with widths up to 200; k = 50 and widths ≤ 100 keep
  the LTC runs affordable on the shared 2-core machine.)
* ``bounds_reference`` — the same models under ``semantics="reference"`` (the authors' code: std =
  label, no 1/k, MATLAB Htanh), checked with both the paper's bounds (σ_w taken as the effective
  sigma_w2·√k) and the authors' commented bounds; plus the LTC with ``recurrence="none"`` (the authors'
  condition for their bound). Smaller: base k = 25, widths 10–50, σ_w² 1–4, depth 1–3 (a reference-
  semantics hard-tanh network at σ_w² = 8, k = 100, 4 layers takes minutes per solve).
* ``bounds_static`` — the static network (``model="mlp"``, hard-tanh clip), checked against Raghu et
  al. 2017 Theorem 1; widths 10–100 × σ_w² 1–8 × depth 1–4.

``draw`` writes into ``figures/bounds/`` (whatever the study's own folder): per-configuration ratios
(``<study>[_<semantics>][_<variant>]_per_config.csv``), growth fits (``…_fits.csv``) and one
measured-vs-bound figure per axis (``…_<axis>.png``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from trajlen import plotting
from trajlen.bounds import check_bound, plot_report
from trajlen.study import Study

__all__ = ["STUDY", "STUDY_REFERENCE", "STUDY_STATIC", "STUDIES", "draw"]


def _axis_points(widths, sigmas, depths, base_width):
    pts = [{"width": k, "sigma_w2": 2.0, "depth": 1} for k in widths]
    pts += [{"width": base_width, "sigma_w2": s, "depth": 1} for s in sigmas]
    pts += [{"width": base_width, "sigma_w2": 2.0, "depth": d} for d in depths]
    return tuple(pts)


def _variants(semantics: str) -> tuple[str, ...]:
    return ("paper",) if semantics == "paper" else ("paper", "code")


def draw(rows: pd.DataFrame, outdir: Path, semantics: str, name: str = "bounds") -> list[Path]:
    """Tables and figures of a bounds study (see the module docstring), into ``figures/bounds/``."""
    out = Path(outdir).parent / "bounds"
    files: list[Path] = []
    for variant in _variants(semantics):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rep = check_bound(rows, "auto", variant)
        stem = (name if name.endswith(semantics) else f"{name}_{semantics}") \
            + ("" if variant == "paper" else f"_{variant}")
        files.append(plotting.write_table(rep.per_config, out / f"{stem}_per_config.csv"))
        if not rep.fits.empty:
            files.append(plotting.write_table(rep.fits, out / f"{stem}_fits.csv"))
        (out / f"{stem}_notes.txt").write_text("\n".join(rep.header) + "\n")
        files.append(out / f"{stem}_notes.txt")
        for p in plot_report(rep, out, "png"):
            target = out / f"{stem}_{p.name.removeprefix('bounds_')}"
            p.replace(target)
            files.append(target)
    return files


def _draw_for(name: str):
    def f(rows: pd.DataFrame, outdir: Path, semantics: str) -> list[Path]:
        return draw(rows, outdir, semantics, name)
    return f


STUDY = Study(
    name="bounds",
    title="Theorems 4-5 vs measured length (hard-tanh, paper semantics): k, sigma_w, depth",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["hardtanh"], "sigma_b2": [1.0],
          "max_seconds": [90.0]},
    points=_axis_points((10, 25, 50, 100), (1.0, 2.0, 4.0, 8.0), (1, 2, 3, 4), base_width=50),
    samples=20,
    semantics=("paper",),
    draw=_draw_for("bounds"),
    quick_samples=1,
    notes="20 networks per point (the paper gives no sample count for its bound checks), enough to "
          "quote exponents to two significant figures; solves over 90 s are recorded as failures.",
)

STUDY_REFERENCE = Study(
    name="bounds_reference",
    title="Theorems 4-5 and the authors' commented bounds vs measured length (reference semantics)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["hardtanh"], "sigma_b2": [1.0],
          "max_seconds": [60.0]},
    points=_axis_points((10, 25, 50), (1.0, 2.0, 4.0), (1, 2, 3), base_width=25)
    + tuple({"model": "ltc", "recurrence": "none", "width": k, "sigma_w2": 2.0, "depth": 1}
            for k in (10, 25, 50)),
    samples=20,
    semantics=("reference",),
    draw=_draw_for("bounds_reference"),
    quick_samples=1,
    notes="The theorems assume N(0, σ_w²/k) weights; the reference semantics draws std = label with no "
          "1/k, so σ_w is taken as sigma_w2·√k for the paper's bounds (see trajlen.bounds).",
)

STUDY_STATIC = Study(
    name="bounds_static",
    title="Raghu et al. 2017 Thm 1 (hard-tanh) vs the static network's length: k x sigma_w2 x depth",
    grid={"model": ["mlp"], "activation": ["hardtanh"], "width": [10, 25, 50, 100],
          "depth": [1, 2, 3, 4], "sigma_w2": [1.0, 2.0, 4.0, 8.0], "sigma_b2": [1.0]},
    samples=20,
    semantics=("paper",),
    draw=_draw_for("bounds_static"),
    quick_samples=1,
    quick_grid={"width": [10, 25], "depth": [1, 2], "sigma_w2": [2.0]},
)

STUDIES = (STUDY, STUDY_REFERENCE, STUDY_STATIC)


def mean_field_table(out: str | Path = "figures/bounds/static_mean_field.csv", widths=(100, 500),
                     depth: int = 6, networks: int = 4, points: int = 2001) -> pd.DataFrame:
    """``figures/bounds/static_mean_field.csv``: static networks (paper semantics) — full-space and
    PCA per-layer stretch (fitted over layers 3..depth, past the transient) against the mean-field
    √χ₁ (Poole et al. 2016) and Raghu et al.'s base β. Slow-ish (PCA of 2001 × 500 states):
    ``python -c "from studies.bounds import mean_field_table; mean_field_table()"``."""
    import math

    import numpy as np

    from trajlen.bounds import beta
    from trajlen.measures import arc_length, full_space_lengths, pca_project
    from trajlen.models import mlp
    from trajlen.params import sample_params
    from trajlen.spec import NetworkSpec
    from trajlen.theory import mean_field_chi, mean_field_fixed_point, mean_field_lengths

    t = np.linspace(0.0, 2 * np.pi, points)
    I = np.c_[np.sin(t), np.cos(t)]
    l_in = arc_length(I)
    rows = []
    for k in widths:
        for act, s2w, s2b in [("hardtanh", 1.0, 1.0), ("hardtanh", 2.0, 1.0), ("hardtanh", 4.0, 1.0),
                              ("hardtanh", 8.0, 1.0), ("hardtanh", 4.0, 0.1), ("relu", 2.0, 1e-12)]:
            net = NetworkSpec(model="mlp", activation=act, width=k, depth=depth, sigma_w2=s2w,
                              sigma_b2=s2b, semantics="paper")
            F, P = [], []
            for s in range(networks):
                x = mlp.forward(net, sample_params(net, 0, s), I)
                F.append(full_space_lengths(x, depth, k))
                P.append([arc_length(pca_project(x[:, i])[0]) for i in range(depth)])
            F, P = np.array(F), np.array(P)
            mf = mean_field_lengths(s2w, s2b, depth, k, act, l_in)
            qs = float("nan") if act == "relu" else mean_field_fixed_point(s2w, s2b, act)
            chi = mean_field_chi(1.0 if act == "relu" else qs, s2w, act)
            b = (beta(k, math.sqrt(s2w), math.sqrt(s2b)) if act == "hardtanh"
                 else math.sqrt(s2w) * math.sqrt(k / (k + 1)))

            def factor(L):
                return math.exp(np.polyfit(np.arange(3, depth + 1), np.log(L.mean(0)[2:]), 1)[0])

            rows.append(dict(activation=act, width=k, sigma_w2=s2w, sigma_b2=s2b, networks=networks,
                             points=points, q_star=qs, sqrt_chi1=math.sqrt(chi),
                             full_factor_l3_6=factor(F), pca_factor_l3_6=factor(P), raghu_base=b,
                             full_len_l6=F.mean(0)[-1], mf_len_l6=mf[-1],
                             full_over_mf_max_dev=np.abs(F.mean(0) / mf - 1).max(),
                             pca_len_l6=P.mean(0)[-1]))
    df = pd.DataFrame(rows)
    plotting.write_table(df, Path(out))
    return df
