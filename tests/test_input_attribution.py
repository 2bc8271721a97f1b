"""The input-attribution study's analysis, on rows whose answer is known: the share (with − off)/with
is paired per network, its interval is the order-statistic one, the steadiness check tells a steady
orbit from a growing one, and the draw writes its tables, verdict and figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studies import BY_NAME
from studies import input_attribution as IA


def _rows(n=20, share=0.25, growth=1.0, model="ctrnn", act="tanh"):
    """Rows of one cell: networks of lengths 10…(10 + n), the input-off length (1 − share) × that,
    and the next period's length × ``growth``."""
    rows = []
    base = 10.0 + np.arange(n)
    for T in IA.TRANSIENTS:
        for kind, f in ((None, 1.0), ("off", 1.0 - share)):
            g = growth if T == IA.T_CHECK else 1.0
            for s in range(n):
                rows.append(dict(semantics="paper", model=model, activation=act, sample=s, transient=T,
                                 input_kind=kind or "exact", status="ok", length=base[s] * f * g,
                                 L=1.0, n_accepted=10))
    return pd.DataFrame(rows)


def test_the_share_is_paired_and_exact():
    rows = _rows(share=0.25)
    table = IA.shares(IA.per_network(rows))
    assert list(table["window"]) == ["from x(0) = 0", "steady orbit"]
    for _, r in table.iterrows():
        assert r["share"] == pytest.approx(0.25) and r["share_lo"] == pytest.approx(0.25)
        assert r["n_pairs"] == 20 and r["length_on"] == pytest.approx(19.5)
    assert table["steady"].all() and table["steady_fraction"].iloc[1] == 1.0


def test_a_growing_orbit_is_not_steady_and_gets_no_verdict():
    table = IA.shares(IA.per_network(_rows(growth=1.5)))
    assert not table["steady"].iloc[1] and table["next_period_ratio"].iloc[1] == pytest.approx(1.5)
    text = IA.verdict(table, "paper")
    assert "no steady orbit" in text and "CT-RNN/tanh" in text


def test_a_share_under_one_percent_is_named():
    rows = pd.concat([_rows(share=0.001), _rows(share=0.9, model="ltc")])
    text = IA.verdict(IA.shares(IA.per_network(rows)), "paper")
    assert "within ±1 % (interval below 5 %) in 1 of 2 cells (CT-RNN/tanh 0.1 %)" in text
    assert "above 50 % in 1 (LTC/tanh 90 %)" in text


def test_draw_writes_tables_verdict_and_figure(tmp_path):
    files = IA.draw(pd.concat([_rows(), _rows(model="node")]), tmp_path, "paper")
    names = {f.name for f in files}
    assert {"input_attribution_paper.csv", "input_attribution_paper_summary.csv",
            "input_attribution_paper.md", "input_attribution_paper.png"} <= names
    md = (tmp_path / "input_attribution_paper.md").read_text()
    assert "Verdict (paper)" in md and "| tanh | CT-RNN | from x(0) = 0 | 20 |" in md


def test_the_study_pairs_the_same_networks_across_conditions():
    tasks = BY_NAME["input_attribution"].tasks("paper", samples=2, quick=True)
    assert len(tasks) == 12 * 6 * 2
    by_cond = {}
    for t in tasks:
        by_cond.setdefault((t.net.model, t.net.activation, t.sample), []).append(t)
    for group in by_cond.values():
        assert {(t.inp.kind, t.inp.transient) for t in group} == {
            (k, T) for k in ("exact", "off") for T in IA.TRANSIENTS}
        W = [t.params().W for t in group]
        assert all(np.array_equal(W[0], w) for w in W)
