"""The paper-artifact studies (``studies/``), their drawing, and the ``trajlen.reproduce`` CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from studies import ALL, BY_NAME, ablation, table2
from studies._draw import boxes, latent, sample_table
from trajlen import reproduce
from trajlen.pipeline import Task
from trajlen.spec import SpecError, make_specs

SPEC_ARTIFACTS = {"table2", "fig2a", "fig2b", "fig2c", "fig2d", "fig2e", "fig2e_sigmoid", "fig3a",
                  "fig3b", "fig3c", "fig3d", "supp_input_step", "supp_htanh_k25"}


def test_every_artifact_has_one_study():
    names = [s.name for s in ALL]
    assert len(names) == len(set(names))
    assert SPEC_ARTIFACTS <= set(names)
    assert {"ablation", "convergence", "static_grid", "obs1_relu", "obs4_tanh"} <= set(names)
    assert BY_NAME == {s.name: s for s in ALL}


def _configs(name, *fields):
    return {tuple(getattr(t.net, f) for f in fields) for t in BY_NAME[name].tasks("paper", samples=1)}


def test_fig2_studies_run_what_the_panels_show():
    """SPEC §5 / issue 15: 2B hard-tanh k = 100, 1 layer, σ_w² 1–8; 2C ReLU and 2D hard-tanh to
    k = 200; 2E the panel (tanh, 5 layers) and the caption (sigmoid); observations I (ReLU, 4 layers)
    and IV (tanh, 6 layers) at k = 100."""
    assert _configs("fig2b", "activation", "width", "depth", "sigma_w2") == {
        ("hardtanh", 100, 1, s) for s in (1.0, 2.0, 4.0, 8.0)}
    widths = {(w,) for w in (10, 25, 50, 100, 150, 200)}
    assert {(a,) for (a,) in _configs("fig2c", "activation")} == {("relu",)}
    assert {(a,) for (a,) in _configs("fig2d", "activation")} == {("hardtanh",)}
    assert _configs("fig2c", "width") == widths == _configs("fig2d", "width")
    assert _configs("fig2e", "activation", "width", "depth") == {("tanh", 100, 5)}
    assert _configs("fig2e_sigmoid", "activation", "depth") == {("sigmoid", 3)}
    assert _configs("obs1_relu", "activation", "width", "depth") == {("relu", 100, 4)}
    assert _configs("obs4_tanh", "activation", "width", "depth") == {("tanh", 100, 6)}
    for name in ("fig2b", "fig2c", "fig2d", "fig2e", "obs1_relu", "obs4_tanh"):
        assert BY_NAME[name].samples == 100 and set(BY_NAME[name].semantics) == {"reference", "paper"}


@pytest.mark.parametrize("study", ALL, ids=lambda s: s.name)
@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
def test_study_grid_builds_valid_tasks(study, quick):
    assert callable(study.draw) and study.samples >= 1 and study.title
    for sem in study.semantics:
        tasks = study.tasks(sem, samples=1, quick=quick)
        assert tasks and all(isinstance(t, Task) for t in tasks)
        assert len({t.task_id for t in tasks}) == len(tasks)
        if quick:  # the default count (the paper's, or the quick one)
            assert len(study.tasks(sem, quick=True)) == len(tasks) * study.quick_samples


def test_table2_reference_runs_matlab_controller():
    tasks = BY_NAME["table2"].tasks("reference", samples=1)
    assert len(tasks) == 12
    assert {(t.solver.backend, t.solver.controller, t.solver.output, t.solver.refine) for t in tasks} == {
        ("numba", "matlab", "refine", 4)}
    assert {(t.net.width, t.net.depth, t.net.sigma_w2, t.net.sigma_b2) for t in tasks} == {(100, 1, 2.0, 1.0)}


def test_ablation_walks_cumulatively_from_reference_to_paper():
    tasks = ablation.STUDY.tasks("reference", samples=1)
    ltc = [t for t in tasks if t.net.model == "ltc" and t.net.activation == "tanh"]
    assert len(ltc) == len(ablation.STEPS)
    first, last = ltc[0], ltc[-1]
    paper = make_specs("paper", model="ltc", activation="tanh", backend="torch")
    for f in ("weight_init", "recurrence", "ltc_decay", "ltc_A", "hardtanh"):
        assert getattr(first.net, f) != getattr(paper[0], f)
        assert getattr(last.net, f) == getattr(paper[0], f)
    assert (last.inp.kind, last.solver.controller, last.solver.output) == (
        paper[1].kind, paper[2].controller, paper[2].output)
    # common random numbers: every step integrates the same standard-normal draws
    a, b = first.params(), last.params()
    assert np.allclose(a.W / first.net.weight_std, b.W / last.net.weight_std)


def _synthetic_rows(n_samples=3, **grid) -> pd.DataFrame:
    """Rows shaped like the results store's, for tiny real specs (so latent curves can re-solve)."""
    rng = np.random.default_rng(0)
    rows = []
    for model in ("node", "ctrnn", "ltc"):
        for values in ([{}] if not grid else [dict(zip(grid, v)) for v in zip(*grid.values())]):
            kw = {"model": model, "activation": "tanh", "width": 4, "depth": 2, **values}
            kw.setdefault("semantics", "paper")
            sem = kw.pop("semantics")
            net, inp, sol = make_specs(sem, **kw)
            for s in range(n_samples):
                lengths = list(rng.uniform(5, 50, net.depth))
                row = dict(net.to_dict(), input_kind=inp.kind, n_samples=inp.n_samples,
                           **{k: v for k, v in sol.to_dict().items() if k != "semantics"},
                           seed=0, sample=s, status="ok" if s < 2 else "non_finite",
                           length=lengths[-1], lengths=lengths, var_pc1_layers=[0.6] * net.depth,
                           lengths_full=[1.5 * v for v in lengths], length_full=1.5 * lengths[-1],
                           tau_min=float(rng.uniform(0.01, 0.5)), steps_per_interval=1.0,
                           var_pc2_layers=[0.3] * net.depth, var_pc1=0.6, var_pc2=0.3,
                           L=float(rng.uniform(0.5, 9)), n_accepted=10, n_rejected=1, nfev=70,
                           n_points=11, spec_json=json.dumps({"network": net.to_dict(),
                                                              "input": inp.to_dict(),
                                                              "solver": sol.to_dict()}))
                rows.append(row)
    return pd.DataFrame(rows)


def test_draw_functions_on_synthetic_table(tmp_path):
    rows = _synthetic_rows(width=[3, 4])
    files = boxes("demo", "width", "width", explained=True, numeric=True, logx=True)(rows, tmp_path,
                                                                                      "paper")
    assert {p.suffix for p in files} == {".csv", ".png", ".pdf"}
    summary = pd.read_csv(tmp_path / "demo_paper_summary.csv")
    assert set(summary["n"]) == {3} and set(summary["n_failed"]) == {1}
    # the full-space length beside the PCA length, medians with their interval columns
    assert {"length_full_median", "length_median_lo", "length_median_hi", "L_median_lo"} <= set(summary)
    np.testing.assert_allclose(summary["length_full_median"], 1.5 * summary["length_median"], rtol=1e-5)
    paired = pd.read_csv(tmp_path / "demo_paper_paired.csv")
    assert set(paired["ratio"]) == {"ltc/node", "ltc/ctrnn", "ctrnn/node"}
    assert set(paired["n_pairs"]) == {2}
    files = latent("demo2", "layer", "layer", per_layer=True)(_synthetic_rows(), tmp_path, "paper")
    curves = pd.read_csv(tmp_path / "demo2_paper_curves.csv")
    assert set(curves["layer"]) == {1, 2} and (tmp_path / "demo2_paper.png").exists()
    assert (tmp_path / "demo2_paper_lengths.png").exists()
    titles = pd.read_csv(tmp_path / "demo2_paper_curve_lengths.csv")
    assert {"activation", "width", "sigma_w2", "layer", "length"} <= set(titles)
    growth = pd.read_csv(tmp_path / "demo2_paper_growth.csv")
    assert set(growth["measure"]) == {"length", "length_full"}
    assert set(zip(growth["from_layer"], growth["to_layer"])) == {(1, 2)}
    t2 = _synthetic_rows(activation=["tanh", "relu"], width=[4, 4])
    table2.draw(t2, tmp_path, "reference")
    md = (tmp_path / "table2_reference.md").read_text()
    assert "0.56 ± 0.016" in md and "| ReLU | LTC | 56.9 ± 9.03 |" in md
    assert len(sample_table(t2, per_layer=True)) == 2 * len(t2)


def test_lyap_verdict_takes_round_off_for_no_variation():
    """The reference CT-RNN's λ_max is −1/τ_max exactly; values a few ULPs apart (another CPU class)
    have no rank correlation with the length to report, while a real spread does."""
    from studies import lyap_sigma

    lam = -0.6533790392300687
    samples = pd.DataFrame({"model": "ctrnn", "sigma_w2": np.repeat(lyap_sigma.SIGMA_W2, 2),
                            "status": "ok", "length": np.arange(10.0) + 1,
                            "lyap_max": lam + np.arange(10) % 3 * 1e-16, "var_pc1": 0.6, "var_pc2": 0.3,
                            "L": 8.0, "message": ""})
    samples["length_full"] = 1.5 * samples["length"]
    summary = lyap_sigma.lyap_summary(samples)
    v = lyap_sigma.verdicts(samples, summary).set_index("model")
    assert np.isnan(v.loc["ctrnn", "spearman_lyap_length"])
    md = lyap_sigma.markdown(summary, lyap_sigma.verdicts(samples, summary), "reference")
    assert [line for line in md.splitlines() if line.startswith("| CT-RNN | none in range")][0] \
        .endswith("| — | — |")
    spread = samples.assign(lyap_max=0.01 * np.arange(10.0))
    v = lyap_sigma.verdicts(spread, lyap_sigma.lyap_summary(spread)).set_index("model")
    assert v.loc["ctrnn", "spearman_lyap_length"] == pytest.approx(1.0)


def test_summary_median_interval_is_the_order_statistic_interval():
    """n = 20 values 1..20: the 95 % interval of the median is [6, 15] (binomial order statistics)."""
    from studies._tables import summary_table

    df = pd.DataFrame({"model": "node", "status": "ok", "length": np.arange(1.0, 21.0),
                       "length_full": np.arange(1.0, 21.0), "L": 1.0, "var_pc1": 0.5, "var_pc2": 0.3})
    s = summary_table(df, ["model"]).iloc[0]
    assert (s["length_median"], s["length_median_lo"], s["length_median_hi"]) == (10.5, 6.0, 15.0)


def test_trend_and_growth_tables_recover_known_exponents():
    from studies._tables import growth_table, trend_table

    k = np.repeat([10.0, 20.0, 40.0, 80.0], 5)
    noise = np.tile([0.98, 0.99, 1.0, 1.01, 1.02], 4)
    df = pd.DataFrame({"model": "ltc", "status": "ok", "width": k, "length": 3 * k * noise,
                       "length_full": 2 * np.sqrt(k) * noise})
    t = trend_table(df, "width").set_index("measure")
    assert t.loc["length", "exponent"] == pytest.approx(1.0, abs=1e-9)
    assert t.loc["length_full", "exponent"] == pytest.approx(0.5, abs=1e-9)
    assert t.loc["length", "exponent_lo"] < 1.0 < t.loc["length", "exponent_hi"]
    layers = pd.DataFrame([{"model": "node", "status": "ok", "sample": s, "layer": d,
                            "length": 5.0 * 3.0 ** d * (1 + 0.01 * s), "length_full": 7.0}
                           for s in range(8) for d in (1, 2, 3)])
    g = growth_table(layers)
    overall = g[(g["measure"] == "length") & (g["from_layer"] == 1) & (g["to_layer"] == 3)].iloc[0]
    assert overall["factor_median"] == pytest.approx(3.0) and overall["n"] == 8
    assert set(g.loc[g["measure"] == "length_full", "factor_median"]) == {1.0}


def test_quick_study_end_to_end_is_deterministic(tmp_path):
    args = ["fig3b", "--quick", "--semantics", "paper", "--samples", "1", "--results",
            str(tmp_path / "r"), "--figures", str(tmp_path / "f"), "--quiet"]
    assert reproduce.main(args) == 0
    out = tmp_path / "f" / "fig3b"
    names = {p.name for p in out.iterdir()}
    assert {"fig3b_paper.png", "fig3b_paper.pdf", "fig3b_paper.csv", "fig3b_paper_summary.csv"} <= names
    first = {n: (out / n).read_bytes() for n in names}
    # draw again from scratch (new store, same seeds): identical tables and figures
    args2 = args[:7] + [str(tmp_path / "r2"), "--figures", str(tmp_path / "f2"), "--quiet"]
    assert reproduce.main(args2) == 0
    for n in names:
        assert (tmp_path / "f2" / "fig3b" / n).read_bytes() == first[n], n


@pytest.mark.parametrize("argv", [
    ["nosuchstudy"],
    ["table2", "--samples", "0"],
    ["table2", "--samples", "many"],
    ["table2", "--jobs", "0"],
    ["table2", "--backend", "jax"],
    ["table2", "--semantics", "textbook"],
    ["ablation", "--semantics", "paper"],
    ["table2", "--threads", "0"],
])
def test_cli_rejects_bad_input_with_exit_2(argv, capsys):
    try:
        code = reproduce.main(argv + ["--results", "/nonexistent/never-written"])
    except SystemExit as e:
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "error" in err


def test_cli_module_entry_point_exit_code():
    r = subprocess.run([sys.executable, "-m", "trajlen.reproduce", "fig9z"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "fig9z" in r.stderr


def test_study_rejects_semantics_it_does_not_allow():
    with pytest.raises(SpecError, match="ablation runs under semantics reference"):
        ablation.STUDY.tasks("paper")


def test_committed_sample_counts_cover_every_study():
    from studies import COMMITTED_SAMPLES

    assert set(COMMITTED_SAMPLES) == set(BY_NAME)
    for name, n in COMMITTED_SAMPLES.items():
        counts = n.values() if isinstance(n, dict) else [n]
        assert all(isinstance(c, int) and 1 <= c <= BY_NAME[name].samples for c in counts)
        if isinstance(n, dict):
            assert set(n) == set(BY_NAME[name].semantics)


def test_committed_figures_were_made_at_the_committed_counts():
    """Every committed summary table says how many networks it holds; that must be the count
    studies.COMMITTED_SAMPLES claims (REPRODUCTION.md quotes these tables)."""
    from pathlib import Path

    import pandas as pd

    from studies import COMMITTED_SAMPLES

    root = Path(__file__).resolve().parents[1] / "figures"
    checked = 0
    for name, study in BY_NAME.items():
        for sem in study.semantics:
            f = root / name / f"{name}_{sem}_summary.csv"
            if not f.exists():
                continue
            n = COMMITTED_SAMPLES[name]
            n = n[sem] if isinstance(n, dict) else n
            assert pd.read_csv(f)["n"].max() == n, f.name
            checked += 1
    assert checked >= 20


def test_table2_intervals_pair_the_same_networks():
    """Paired ratios use sample i of each model: an LTC exactly 2× its CT-RNN on every network gives
    ratio 2 with a zero-width interval even though the unpaired medians' intervals overlap widely."""
    rng = np.random.default_rng(0)
    base = rng.lognormal(0.0, 1.0, 40)
    rows = [{"activation": "tanh", "model": m, "sample": i, "status": "ok", "L": f * b, "length": f * b + 1.0}
            for m, f in (("node", 1.0), ("ctrnn", 3.0), ("ltc", 6.0)) for i, b in enumerate(base)]
    samples = pd.DataFrame(rows).sample(frac=1.0, random_state=1)   # order must not matter
    iv = table2.intervals(samples).set_index(["quantity", "what"])
    r = iv.loc[("L", "ltc / ctrnn")]
    assert r["estimate"] == pytest.approx(2.0) and r["low"] == pytest.approx(2.0)
    assert r["high"] == pytest.approx(2.0) and r["n"] == 40 and r["p_wilcoxon"] < 1e-6
    assert iv.loc[("L", "ltc"), "estimate"] == pytest.approx(np.median(6.0 * base))
    lo, hi = iv.loc[("L", "ctrnn"), ["low", "high"]]
    assert lo < np.median(3.0 * base) < hi
    assert "LTC / CT-RNN" in table2.intervals_markdown(iv.reset_index())


def test_figures_index_lists_every_figure_with_its_verdict():
    """figures/README.md shows every committed PNG as a thumbnail link with a verdict, and is what
    ``python -m studies.index`` writes (so it cannot fall behind the figures)."""
    from pathlib import Path

    from studies import index

    root = Path(__file__).resolve().parents[1] / "figures"
    text = (root / "README.md").read_text()
    assert text == index.index_markdown(root)
    pngs = index.figure_paths(root)
    assert len(pngs) >= 40
    for p in pngs:
        assert f'<a href="{p.as_posix()}"><img src="{p.as_posix()}"' in text
        assert index.verdict_for(p), f"no verdict for {p}"
    stems = [p.with_suffix("").as_posix() for p in pngs]
    unused = [k for k in index.VERDICTS if not any(s == k or s.startswith(k + "_") for s in stems)]
    assert not unused, f"verdicts without a figure: {unused}"


def test_numeric_ticks_round_only_labels_that_would_touch():
    """Exact grid values as tick labels; two long labels a factor < 2.5 apart (the input steps
    0.0997 and 0.2027) are rounded to two significant figures, short ones (widths) never."""
    from trajlen import plotting

    fig, ax = plotting.plt.subplots()
    try:
        ax.set_xscale("log")
        plotting.numeric_ticks(ax, [0.2027, 0.001, 0.0997, 0.01, 0.02])
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0.001", "0.01", "0.02", "0.1", "0.2"]
        plotting.numeric_ticks(ax, [10, 25, 50, 100, 150, 200])
        assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "25", "50", "100", "150", "200"]
    finally:
        plotting.plt.close(fig)
