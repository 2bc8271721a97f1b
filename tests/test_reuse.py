"""Rows copied between stores instead of computed again (``run_sweep(reuse=...)``, and
``trajlen.reproduce``, which passes each study the stores of the other studies of its run): a copied
row equals the computed one, a dead worker's row is never copied, a failed one not under
``--retry-failed``, and the counts say what was copied."""

from __future__ import annotations

import pandas as pd
import pytest

from trajlen import reproduce
from trajlen.driver import dead_row, run_sweep
from trajlen.pipeline import SCHEMA_VERSION
from trajlen.results import ResultStore, read_results
from trajlen.tasks import build_tasks

GRID = {"model": ["ctrnn", "ltc"], "width": [4], "backend": ["numba"]}


def _rows(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns="wall_s").reset_index(drop=True)


def test_copied_rows_equal_computed_ones(tmp_path):
    shared = build_tasks(GRID, 3, 5)
    more = build_tasks({**GRID, "activation": ["relu"]}, 2, 5)
    run_sweep(shared, tmp_path / "donor", progress=False)
    res = run_sweep(shared + more, tmp_path / "taker", progress=False, reuse=[tmp_path / "donor"])
    assert (res.n_copied, res.n_computed, res.n_skipped) == (len(shared), len(more), 0)
    fresh = run_sweep(shared + more, tmp_path / "fresh", progress=False)
    pd.testing.assert_frame_equal(_rows(res.table), _rows(fresh.table))
    # a rerun finds them in its own store: nothing copied, nothing computed
    again = run_sweep(shared + more, tmp_path / "taker", progress=False, reuse=[tmp_path / "donor"])
    assert (again.n_copied, again.n_computed, again.n_skipped) == (0, 0, len(shared + more))


def test_dead_rows_are_never_copied_and_failed_ones_not_on_retry(tmp_path):
    tasks = build_tasks(GRID, 2, 1)
    donor = ResultStore(tmp_path / "donor", SCHEMA_VERSION)
    with donor.lock():
        donor.plan([t.task_id for t in tasks])
        donor.write_shard([dead_row(tasks[0], "killed")])
        failed = dead_row(tasks[1], "x") | {"status": "step_budget", "message": "step budget spent"}
        donor.write_shard([failed])
    res = run_sweep(tasks[:2], tmp_path / "a", progress=False, reuse=[tmp_path / "donor"])
    assert (res.n_copied, res.n_computed) == (1, 1)
    assert res.table.set_index("task_id").loc[tasks[1].task_id, "status"] == "step_budget"
    assert res.table.set_index("task_id").loc[tasks[0].task_id, "status"] == "ok"
    res = run_sweep(tasks[:2], tmp_path / "b", progress=False, reuse=[tmp_path / "donor"],
                    retry_failed=True)
    assert (res.n_copied, res.n_computed) == (0, 2)


def test_a_copied_rows_version_joins_the_stores_writers(tmp_path):
    tasks = build_tasks(GRID, 1, 3)
    run_sweep(tasks, tmp_path / "donor", progress=False)
    donor = ResultStore(tmp_path / "donor", SCHEMA_VERSION)
    rows = [r | {"trajlen_version": "0.0.1-other"}
            for r in donor.rows_of({t.task_id for t in tasks}, ok_only=False)]
    assert len(rows) == len(tasks)
    with donor.lock():
        for shard in donor.shards():
            shard.unlink()
        donor.write_shard(rows)
    with pytest.warns(UserWarning, match="receives copied rows written by trajlen 0.0.1-other"):
        res = run_sweep(tasks, tmp_path / "taker", progress=False, reuse=[tmp_path / "donor"])
    assert res.n_copied == len(tasks)
    assert "0.0.1-other" in ResultStore(tmp_path / "taker", SCHEMA_VERSION).written_by()
    computed = run_sweep(tasks, tmp_path / "alone", progress=False)
    assert ResultStore(tmp_path / "alone", SCHEMA_VERSION).written_by() == \
        ResultStore(tmp_path / "taker", SCHEMA_VERSION).written_by()[:1]
    assert computed.n_computed == len(tasks)


def test_an_unreadable_donor_is_skipped_with_a_warning(tmp_path):
    tasks = build_tasks(GRID, 1, 2)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "store.json").write_text('{"schema_version": 1}')
    with pytest.warns(UserWarning, match="not copied.*schema version 1"):
        res = run_sweep(tasks, tmp_path / "c", progress=False, reuse=[tmp_path / "old"])
    assert (res.n_copied, res.n_computed) == (0, len(tasks))


def test_reproduce_copies_between_its_studies(tmp_path):
    """Quick Fig 3B (paper) shares 3 of its 6 networks with quick Table 2: run together, Fig 3B
    copies them; its rows equal Fig 3B run alone, and timings.csv says how many were copied."""
    common = ["--quick", "--semantics", "paper", "--samples", "1", "--quiet"]
    both, alone = tmp_path / "both", tmp_path / "alone"
    assert reproduce.main(["table2", "fig3b", *common, "--results", str(both),
                           "--figures", str(both / "f")]) == 0
    assert reproduce.main(["fig3b", *common, "--results", str(alone), "--figures", str(alone / "f")]) == 0
    timings = pd.read_csv(both / "timings.csv").set_index("study")
    assert timings.loc["table2", "copied"] == 0
    assert (timings.loc["fig3b", "copied"], timings.loc["fig3b", "computed"]) == (3, 3)
    got = read_results(both / "quick" / "fig3b" / "paper")
    pd.testing.assert_frame_equal(_rows(got), _rows(read_results(alone / "quick" / "fig3b" / "paper")))
    for name in ("fig3b_paper.csv", "fig3b_paper_summary.csv"):
        assert (both / "f" / "fig3b" / name).read_bytes() == (alone / "f" / "fig3b" / name).read_bytes()


def test_a_timings_file_without_the_copied_column_keeps_its_rows(tmp_path):
    old = "study,semantics,computed\ntable2,paper,12\n"
    (tmp_path / "timings.csv").write_text(old)
    reproduce._log_timing(tmp_path, {"study": "fig3b", "semantics": "paper", "computed": 3, "copied": 3})
    t = pd.read_csv(tmp_path / "timings.csv")
    assert list(t.columns) == ["study", "semantics", "computed", "copied"]
    assert t["study"].tolist() == ["table2", "fig3b"] and t["copied"].isna().tolist() == [True, False]
    (tmp_path / "timings.csv").write_text("")  # an empty file is a new one
    reproduce._log_timing(tmp_path, {"study": "fig3b", "copied": 3})
    assert (tmp_path / "timings.csv").read_text() == "study,copied\nfig3b,3\n"
