"""The store cannot be fooled: a shard proves its contents, a bad one never bricks the store, foreign
and overlapping shards are not merged, and readers never move anything.

Every test damages a small healthy store (6 scipy networks, 3 shards) the way a disk, a user or a
forger would, then checks what a reader (:func:`read_results`, no lock) and the next sweep (the
locked writer) make of it: the final table must equal the undamaged one (timings aside).
"""

from __future__ import annotations

import json
import pathlib
import random
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trajlen import shards as SH
from trajlen.driver import dead_row as _dead_row
from trajlen.pipeline import SCHEMA_VERSION, run_tasks
from trajlen.results import ResultStore, StoreError, read_results
from trajlen.spec import SpecError
from trajlen.sweep import main
from trajlen.tasks import build_tasks

ARGS = ["--model", "node", "ctrnn", "--width", "4", "--samples", "3", "--jobs", "1", "--backend",
        "scipy", "--chunk-size", "2", "--quiet"]


def _shards(out: Path) -> list[Path]:
    return sorted(p for p in (out / "shards").glob("*.parquet") if not p.name.startswith("."))


def _values(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="wall_s").sort_values("task_id").reset_index(drop=True)


def _sweep(out: Path, capsys, args=ARGS) -> tuple[int, list[str]]:
    """Run the CLI on ``out``; return its exit status and its stderr lines."""
    capsys.readouterr()
    code = main([*args, "--out", str(out)])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("healthy") / "store"
    assert main([*ARGS, "--out", str(out)]) == 0
    assert len(_shards(out)) == 3
    return out


@pytest.fixture
def store(healthy, tmp_path) -> Path:
    out = tmp_path / "store"
    shutil.copytree(healthy, out)
    return out


@pytest.fixture(scope="module")
def reference(healthy) -> pd.DataFrame:
    return _values(read_results(healthy))


def _read_quietly(out: Path) -> tuple[pd.DataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = read_results(out)
    return df, [str(w.message) for w in caught]


def test_300_random_bit_flips_are_never_accepted_as_different_values(store):
    """Each flip is accepted only if the table read is exactly the original one; otherwise the
    shard is rejected (and, by a reader, left where it is)."""
    shard, *others = _shards(store)
    for p in others:  # one shard: each read is then about the flipped file alone
        p.unlink()
    original = shard.read_bytes()
    expected = _values(pd.read_parquet(shard))
    rng = random.Random(18)
    accepted_same = rejected = 0
    for _ in range(300):
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        shard.write_bytes(bytes(data))
        df, messages = _read_quietly(store)
        if df.empty:
            rejected += 1
            assert len(messages) == 1 and shard.name in messages[0]
        else:
            pd.testing.assert_frame_equal(_values(df), expected, check_exact=True)
            accepted_same += 1
        assert shard.exists() and not list(store.glob("shards/*.corrupt"))  # readers never move
    assert rejected > 100 and accepted_same + rejected == 300


def _forge(rows_table: pa.Table, path: Path) -> None:
    """Write a table as a shard with a *correct* content hash for what it holds (a forger who
    knows the format): only the schema checks can catch it."""
    table = rows_table.replace_schema_metadata({SH.DIGEST_KEY: SH.content_digest(rows_table).encode()})
    pq.write_table(table, path)


@pytest.mark.parametrize("how", ["pandas", "forged"])
def test_a_wrong_column_type_is_set_aside_and_never_bricks_the_store(store, reference, capsys, how):
    shard = _shards(store)[1]
    if how == "pandas":  # an edit with a tool that knows nothing of content hashes
        df = pd.read_parquet(shard)
        df["width"] = df["width"].astype(str)
        df.to_parquet(shard, index=False)
    else:
        table = pq.read_table(shard).replace_schema_metadata(None)
        i = table.schema.get_field_index("width")
        _forge(table.set_column(i, "width", table.column("width").cast(pa.string())), shard)
    df, messages = _read_quietly(store)  # a reader reports, reads the rest, moves nothing
    assert len(df) == 4 and len(messages) == 1 and shard.name in messages[0]
    assert shard.exists()
    code, err = _sweep(store, capsys)
    assert code == 0 and len(err) == 1 and "will be recomputed" in err[0], err
    assert shard.with_suffix(".corrupt").exists()
    pd.testing.assert_frame_equal(_values(read_results(store)), reference)
    pd.testing.assert_frame_equal(_values(pd.read_parquet(store / "results.parquet")), reference)
    assert _sweep(store, capsys) == (0, [])  # healthy again: nothing to report, nothing to compute


def _valid_table(store: Path) -> pa.Table:
    return SH.decode(_shards(store)[0].read_bytes())


@pytest.mark.parametrize("damage, match", [
    ("utf8", "invalid|unreadable"), ("null", "null"), ("missing", "missing"), ("extra", "unexpected"),
])
def test_forged_schema_and_content_errors_are_rejected(store, damage, match):
    t = _valid_table(store)
    n = t.num_rows
    if damage == "utf8":
        bad = pa.array([b"\xff\xfe not utf-8"] * n, pa.binary()).view(pa.string())
        t = t.set_column(t.schema.get_field_index("message"), pa.field("message", pa.string(), False), bad)
    elif damage == "null":
        # (Parquet cannot even store a null in a required column: the forger declares it nullable)
        t = t.set_column(t.schema.get_field_index("status"), pa.field("status", pa.string(), True),
                         pa.array([None] * n, pa.string()))
    elif damage == "missing":
        t = t.drop_columns(["length"])
    else:
        t = t.append_column("evil", pa.array([1] * n))
    path = store / "forged.parquet"
    _forge(t, path)
    with pytest.raises(SH.ShardError, match=match):
        SH.decode(path.read_bytes())


def test_a_shard_from_another_sweep_is_reported_not_merged(store, reference, tmp_path, capsys):
    other = tmp_path / "other"
    assert main([*ARGS[:-1], "--seed", "7", "--out", str(other), "--quiet"]) == 0
    stranger = _shards(other)[0]
    shutil.copy(stranger, store / "shards" / stranger.name)
    df, messages = _read_quietly(store)
    assert len(messages) == 1 and "no sweep of this store planned" in messages[0]
    pd.testing.assert_frame_equal(_values(df), reference)
    code, err = _sweep(store, capsys)
    assert code == 0 and len(err) == 1 and "moved to *.foreign" in err[0], err
    pd.testing.assert_frame_equal(_values(pd.read_parquet(store / "results.parquet")), reference)
    assert (store / "shards" / stranger.name).with_suffix(".foreign").exists()


def test_a_forged_overlapping_shard_wins_nothing(store, reference, capsys):
    """A well-formed shard (right hash, right name) claiming another value for a task that a real
    shard holds: neither is merged, both are set aside, and the task is computed again."""
    victim = _shards(store)[0]
    import pyarrow.parquet as pq

    row = pq.read_table(victim).to_pylist()[0]    # (pandas would turn a null string into NaN)
    row["length"] = 1e9
    ResultStore(store, SCHEMA_VERSION).write_shard([row])
    df, messages = _read_quietly(store)
    assert len(messages) == 1 and "hold the same task ids" in messages[0]
    assert len(df) == 4 and (df["length"] < 1e9).all()
    code, err = _sweep(store, capsys)
    assert code == 0 and len(err) == 1 and "recomputed" in err[0], err
    assert len(list(store.glob("shards/*.overlap"))) == 2
    pd.testing.assert_frame_equal(_values(read_results(store)), reference)


def test_sweeps_that_share_a_store_are_not_foreign_to_each_other(store, capsys):
    more = [a if a != "3" else "5" for a in ARGS]  # the same grid with more samples
    code, err = _sweep(store, capsys, more)
    assert (code, err) == (0, [])
    code, err = _sweep(store, capsys)  # and the smaller one again
    assert (code, err) == (0, [])
    assert len(read_results(store)) == 10


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied"), MemoryError()])
def test_os_and_memory_errors_are_one_line_errors_never_corruption(store, monkeypatch, capsys, error):
    real = pathlib.Path.read_bytes
    target = _shards(store)[0]

    def failing(self):
        if self == target:
            raise error
        return real(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", failing)
    with pytest.raises(StoreError, match=type(error).__name__):
        read_results(store)
    code, err = _sweep(store, capsys)  # the locked writer: the same, and nothing set aside
    assert code == 2 and len(err) == 1 and type(error).__name__ in err[0], err
    assert target.exists() and not list(store.glob("shards/*.corrupt"))


def test_a_store_of_another_trajlen_version_is_reported_at_start(store, capsys):
    meta = json.loads((store / "store.json").read_text())
    meta.update(trajlen_version="0.0.9", written_by=["0.0.9"])
    (store / "store.json").write_text(json.dumps(meta))
    code, err = _sweep(store, capsys)
    assert code == 0 and len(err) == 1 and "written by trajlen 0.0.9" in err[0], err
    assert "0.1.0" in json.loads((store / "store.json").read_text())["written_by"]


def test_a_store_from_before_content_hashes_is_recomputed_not_trusted(store, reference, capsys):
    old = {"schema_version": SCHEMA_VERSION, "trajlen_version": "0.1.0"}
    (store / "store.json").write_text(json.dumps(old))
    shutil.rmtree(store / "planned")
    for shard in _shards(store):  # what the old writer wrote: pandas' Parquet, no hash
        pd.read_parquet(shard).to_parquet(shard, index=False)
    df, messages = _read_quietly(store)
    assert df.empty and len(messages) == 1 and "store format 1" in messages[0]
    code, err = _sweep(store, capsys)
    assert code == 0 and len(err) == 1 and "*.unverified" in err[0], err
    assert len(list(store.glob("shards/*.unverified"))) == 3
    pd.testing.assert_frame_equal(_values(read_results(store)), reference)


def test_row_schema_is_the_row_builders():
    """Rows of every kind the pipeline builds have exactly ROW_SCHEMA's columns and survive the
    round trip bit for bit (NaN lengths of failures, None max_seconds, a static mlp, a dead worker)."""
    tasks = build_tasks({"model": ["node", "ltc", "mlp"], "width": [3], "backend": ["scipy"],
                         "max_seconds": [None, 5.0]}, 1, 0)
    tasks += build_tasks({"model": ["ctrnn"], "width": [3], "backend": ["scipy"], "max_steps": [2]}, 1, 0)
    rows = run_tasks(tasks) + [_dead_row(tasks[0], "EXIT(-9)")]
    for row in rows:
        assert list(row) == ROW_NAMES
    built = pa.Table.from_pylist(rows, schema=SH.ROW_SCHEMA)
    pd.testing.assert_frame_equal(SH.decode(SH.encode(rows)).to_pandas(), built.to_pandas(),
                                  check_exact=True)
    with pytest.raises(ValueError, match="exactly the columns"):
        SH.encode([{**rows[0], "extra": 1}])


ROW_NAMES = SH.ROW_SCHEMA.names


def test_unreadable_store_json_is_one_line(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "store.json").write_text("{not json")
    with pytest.raises(SpecError, match="store.json"):
        read_results(tmp_path / "s")


def test_the_writers_kept_tables_are_what_its_shards_decode_to(healthy, tmp_path):
    """``write_shard`` keeps the table it encoded instead of parsing its own bytes back at
    consolidation; that table must be exactly what a reader decodes from the file (list fields
    included, or a resumed sweep could not concatenate old and new shards), and the consolidated
    table the one a fresh store (no kept tables) builds from the same shards."""
    rows = [r for p in _shards(healthy) for r in pq.read_table(p).to_pylist()]
    first = ResultStore(tmp_path / "s", SCHEMA_VERSION)
    with first.lock():
        first.plan([r["task_id"] for r in rows])
        first.write_shard(rows[:2])
    writer = ResultStore(tmp_path / "s", SCHEMA_VERSION)  # a resumed sweep: one shard decoded
    with writer.lock():
        assert len(writer.done_ids()) == 2
        paths = [writer.write_shard(rows[i:i + 2]) for i in range(2, len(rows), 2)]
        for path in paths:
            kept = writer._cache[path.name][1]
            assert kept.equals(SH.decode(path.read_bytes()), check_metadata=True)
            assert kept.schema.equals(SH.decode(path.read_bytes()).schema, check_metadata=True)
        written = writer.consolidate()
    fresh = ResultStore(tmp_path / "s", SCHEMA_VERSION)
    pd.testing.assert_frame_equal(written, fresh.read())
    assert len(written) == len(rows) and written["task_id"].is_unique
