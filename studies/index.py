"""``figures/README.md`` — every committed figure as a thumbnail linking to it, with its one-line
verdict. ``python -m studies.index`` rewrites it from the PNGs under ``figures/`` (in the order of
:data:`studies.ALL`) and :data:`VERDICTS`; a test checks that every PNG is listed and has a verdict,
and that no verdict is left without a figure.

The verdicts are REPRODUCTION.md's, shortened to one line; that file gives the numbers, the 95 %
intervals and the configuration behind each.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["VERDICTS", "figure_paths", "verdict_for", "index_markdown", "write_index"]

ROOT = Path(__file__).resolve().parents[1] / "figures"
THUMB_WIDTH = 240

#: figure stem under figures/ (without ``.png``) → the one-line verdict of every figure whose stem
#: starts with it (``fig2b/fig2b_paper`` covers ``fig2b_paper.png`` and ``fig2b_paper_lengths.png``);
#: the longest matching key wins.
VERDICTS: dict[str, str] = {
    "table2/table2_reference": "**Partly reproduces**: the N-ODE cells and the ReLU/hard-tanh LTC medians "
                               "(55.4, 82.7 vs 56.9, 81.0); not the CT-RNN cells (median 8–9 vs 4–5)",
    "table2/table2_paper": "**Does not reproduce**: every CT-RNN and LTC is τ-limited, the LTC's L no "
                           "larger than the CT-RNN's",
    "fig2a/fig2a_reference": "**Reproduces I and II**: N-ODE and CT-RNN exponential in depth (hard-tanh), "
                             "the LTC huge in layer 1, then nearly flat",
    "fig2a/fig2a_paper": "**Does not reproduce**: flat in depth for every model; the LTC shortest",
    "fig2b/fig2b_reference": "**Reproduces**: the hard-tanh LTC is longest and grows fastest with σ_w² "
                             "(exponent 2.3 [2.1, 2.5]); LTC/N-ODE 25 at σ_w² = 1, 826 at 8",
    "fig2b/fig2b_paper": "**Does not reproduce**: the LTC is below the N-ODE at every σ_w² "
                         "(LTC/N-ODE 0.10 → 0.31)",
    "fig2c/fig2c_reference": "**Reproduces**: the ReLU LTC grows linearly in k (exponent 1.04 [1.03, 1.06]), "
                             "N-ODE and CT-RNN like √k; LTC/N-ODE 1.1 → 6.1",
    "fig2c/fig2c_paper": "**Does not reproduce**: the LTC is tiny and shrinks with k (median 0.71 → 0.45); "
                         "N-ODE 236 → 1 890",
    "fig2d/fig2d_reference": "**Reproduces** the LTC's dominance (MATLAB Htanh): median 59 → 66 400 over "
                             "k = 10 → 200, exponent 2.25; N-ODE and CT-RNN like √k",
    "fig2d/fig2d_paper": "**Does not reproduce**: the LTC is below the N-ODE at every width "
                         "(LTC/N-ODE 0.11–0.20)",
    "fig2e/fig2e_reference": "**Reproduces** observation IV for tanh, 5 layers: per layer N-ODE ×1.11, "
                             "CT-RNN ×0.91, LTC ×0.97 — no exponential growth",
    "fig2e/fig2e_paper": "**Reproduces** observation IV for tanh, 5 layers: per layer N-ODE ×1.007, "
                         "CT-RNN ×1.04, LTC ×0.99; the LTC is the shortest",
    "fig2e_sigmoid/fig2e_sigmoid_reference": "**Reproduces** the caption's claim (sigmoid, 3 layers): no "
                                             "growth with depth (N-ODE ×1.11, LTC ×0.94 per layer)",
    "fig2e_sigmoid/fig2e_sigmoid_paper": "**Reproduces** no growth with depth (sigmoid, 3 layers); the LTC "
                                         "(0.43) is far below the N-ODE (39)",
    "fig3a/fig3a_reference": "**Reproduces** observation VIII: the solver moves the median length by at "
                             "most 11 % (RK23, RK45, LSODA, BDF)",
    "fig3a/fig3a_paper": "**Reproduces** observation VIII: medians within 0.6 % across the four solvers",
    "fig3b/fig3b_reference": "**Reproduces** observation VI for the LTC: ×20.5 for ×20 width; N-ODE and "
                             "CT-RNN grow like √k",
    "fig3b/fig3b_paper": "**Does not reproduce**: the LTC grows slowly (2.4 → 5.2, exponent 0.24) and "
                         "stays below the N-ODE",
    "fig3c/fig3c_reference": "**Reproduces** observation VII: the LTC grows in proportion to the σ_w² label "
                             "(141 → 6 692); N-ODE and CT-RNN saturate",
    "fig3c/fig3c_paper": "**Does not reproduce**: the LTC grows (3.5 → 37.8) but stays below the N-ODE",
    "fig3d/fig3d_reference": "**Reproduces** observation IV for sigmoid, 6 layers: no growth with depth",
    "fig3d/fig3d_paper": "**Reproduces** observation IV for sigmoid, 6 layers: no growth with depth",
    "supp_input_step/supp_input_step_reference": "Untested against the paper (no claim in the text): "
                                                 "medians within 0.6 % over a 200-fold range of δt",
    "supp_input_step/supp_input_step_paper": "Untested against the paper (no claim in the text): the "
                                             "length does not depend on the input step",
    "supp_htanh_k25/supp_htanh_k25_reference": "**Reproduces** I and II: per layer N-ODE ×20.7 "
                                               "[20.4, 21.0] and CT-RNN ×5.4, the LTC ×1.13 [1.08, 1.21]",
    "supp_htanh_k25/supp_htanh_k25_paper": "**Does not reproduce**: no exponential growth (per layer "
                                           "N-ODE ×1.004, CT-RNN ×0.98, LTC ×1.09)",
    "obs1_relu/obs1_relu_reference": "**Supports** observation I for ReLU: per layer N-ODE ×30.9 "
                                     "[30.0, 31.5], CT-RNN ×8.5; the LTC ×1.21 (slower: II)",
    "obs1_relu/obs1_relu_paper": "**Contradicts** observation I for ReLU: the factor falls layer by layer "
                                 "(N-ODE ×2.39, 1.67, 1.29); the LTC shrinks (×0.93)",
    "obs4_tanh/obs4_tanh_reference": "**Supports** observation IV for tanh, 6 layers: the N-ODE rises 43 % "
                                     "from layer 1 to 2, then is flat; CT-RNN ×0.92, LTC ×0.98 per layer",
    "obs4_tanh/obs4_tanh_paper": "**Supports** observation IV for tanh, 6 layers: per layer N-ODE ×1.006, "
                                 "CT-RNN ×1.02, LTC ×1.00",
    "bounds/bounds_paper": "Theorems 4–5 under their own assumptions: only the N-ODE's depth exponent "
                           "matches (≈ 0); Eq. 9 lies above the LTC's length on 198/200 networks",
    "bounds/bounds_reference": "The paper's bounds with σ_w = label·√k: violated by 106/140 CT-RNNs and "
                               "199/200 LTCs, by up to 10²⁵⁶",
    "bounds/bounds_reference_code": "The authors' code bounds hold on 448/460 networks, mostly by being "
                                    "small; they miss the N-ODE's growth (×23 per layer)",
    "bounds/bounds_static_paper": "Raghu et al.'s β^d is violated by 903/1 280 static networks; the "
                                  "measured per-layer growth is below β's in all 16 groups",
    "input_attribution/input_attribution_reference": "Under the authors' code the length is mostly the "
                                                     "input's for the CT-RNN, **not** for the hard-tanh LTC",
    "input_attribution/input_attribution_paper": "**Not supported**: from x(0) = 0 the length is ≥ 97 % "
                                                 "bias-driven in 11 of 12 cells",
    "ablation/ablation_reference": "The reference weight initialisation is the switch: LTC/N-ODE 9.4 → 0.16 "
                                   "(tanh) when the weights become N(0, σ_w²/k)",
    "convergence/convergence_reference": "At rtol 1e-2 the trajectory is accurate; the length moves with "
                                         "where the solver puts its points (the PCA plane)",
    "static_grid/static_grid_paper": "Our study: the full-space length's per-layer factor converges with "
                                     "the grid (1.73 at T = 2 001 → 1.79 at 100 001; mean field 1.82); the "
                                     "PCA length stays at 1.49–1.53",
    "table2_ncps/table2_ncps_reference": "Our study: the ncps LTC (median length 4.25) and the CfC "
                                         "(3.1–7.9) lie below the N-ODE, at 0.01–0.03× the reference LTC",
    "table2_ncps/table2_ncps_paper": "Our study: under the paper semantics both exceed the paper's LTC "
                                     "(ncps LTC 9.5× the sigmoid LTC; CfC 1.27× tanh, 6.3× ReLU), both "
                                     "below the N-ODE",
    "supp_input_step_cfc/supp_input_step_cfc": "Our study: the CfC's length grows ×1.13 from 32 to 6 284 "
                                               "input samples (7.39 → 8.31, levelling off); the LTCs' "
                                               "change < 0.1 %",
    "lyap_sigma/lyap_sigma_paper": "Our study: the length does **not** track the onset of chaos — the "
                                   "N-ODE's λ_max > 0 at every σ_w², the CT-RNN's median never crosses 0 "
                                   "while its length grows ×1.5 (n = 30)",
    "lyap_sigma/lyap_sigma_reference": "One network per point (not a test): N-ODE λ_max 0 and CT-RNN −0.65 "
                                       "at every σ_w²; the LTC's λ_max has no trend while its length "
                                       "climbs 53 → 1 650",
}


def verdict_for(figure: Path) -> str | None:
    """The verdict of one figure (a path relative to ``figures/``), or None."""
    key = figure.with_suffix("").as_posix()
    hits = [k for k in VERDICTS if key == k or key.startswith(k + "_")]
    return VERDICTS[max(hits, key=len)] if hits else None


def figure_paths(root: Path = ROOT) -> list[Path]:
    """The PNGs under ``root``, relative to it, grouped by study in the order of ``studies.ALL``
    (folders no study owns last), sorted within a study."""
    from studies import ALL

    rank = {s.name: i for i, s in enumerate(ALL)}
    rank.setdefault("bounds", len(rank))
    pngs = sorted(p.relative_to(root) for p in root.rglob("*.png"))
    return sorted(pngs, key=lambda p: (rank.get(p.parts[0], len(rank) + 1), str(p)))


def _title(folder: str) -> str:
    from studies import BY_NAME

    s = BY_NAME.get(folder)
    return s.title if s is not None else "Theorems 4–5 and Raghu et al.'s bound against measured lengths"


def index_markdown(root: Path = ROOT) -> str:
    """The index page: one section per study folder, one table row per figure."""
    lines = ["# Figures", "",
             "Every figure of this repository, as a thumbnail linking to the full-size PNG (a PDF lies "
             "beside each study figure), with its one-line verdict. The numbers, their 95 % intervals "
             "and the configurations are in [REPRODUCTION.md](../REPRODUCTION.md); each figure's "
             "caption states its semantics, n and configuration, and the CSV tables it was drawn "
             "from lie beside it. Regenerate: `python -m trajlen.reproduce all --samples committed`, "
             "then `python -m studies.index`.", ""]
    folder = None
    for p in figure_paths(root):
        if p.parts[0] != folder:
            folder = p.parts[0]
            lines += ["", f"## {folder} — {_title(folder)}", "", "| figure | verdict |", "|---|---|"]
        verdict = verdict_for(p) or "**no verdict recorded**"
        lines.append(f'| <a href="{p.as_posix()}"><img src="{p.as_posix()}" width="{THUMB_WIDTH}" '
                     f'alt="{p.stem}"></a><br>`{p.name}` | {verdict} |')
    return "\n".join(lines) + "\n"


def write_index(root: Path = ROOT) -> Path:
    path = Path(root) / "README.md"
    path.write_text(index_markdown(root))
    return path


if __name__ == "__main__":
    print(write_index())
