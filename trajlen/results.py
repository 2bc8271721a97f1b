"""Pipeline stage 6 — the results store: append-safe, resumable, one Parquet shard per chunk.

A store is a directory::

    OUT/store.json           schema version and trajlen version that wrote it
    OUT/shards/<id>.parquet  rows of one chunk, written to a temporary name and renamed (atomic)
    OUT/results.parquet      consolidated table (rewritten by :meth:`ResultStore.consolidate`)
    OUT/results.csv          the same for humans (list columns as JSON)

Shard names are the hash of the chunk's task ids, so parallel workers never race for a name and a
rerun of the same chunk overwrites rather than duplicates. A shard that cannot be read (a crash
mid-write on a filesystem without atomic rename, a truncated copy) is detected, set aside with a
warning, and its tasks are computed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from . import __version__
from .spec import SpecError

__all__ = ["ResultStore", "read_results", "SchemaMismatch"]

LIST_COLUMNS = ("lengths", "var_pc1_layers", "var_pc2_layers")


class SchemaMismatch(SpecError):
    """A store written by another schema version: results are never silently mixed."""


class ResultStore:
    """A directory of result shards. See the module docstring for the layout."""

    def __init__(self, path: str | Path, schema_version: int):
        self.path = Path(path)
        self.schema_version = schema_version
        if self.path.exists() and not self.path.is_dir():
            raise SpecError(f"--out must be a directory for the result store, got file {str(self.path)!r}")
        meta = self.path / "store.json"
        if meta.exists():
            try:
                found = json.loads(meta.read_text())["schema_version"]
            except (ValueError, KeyError) as e:
                raise SchemaMismatch(f"{meta} is not a trajlen store description: {e}") from None
            if found != schema_version:
                raise SchemaMismatch(
                    f"results in {str(self.path)!r} have schema version {found}, this trajlen writes "
                    f"{schema_version}; use a new --out directory")

    @property
    def shard_dir(self) -> Path:
        return self.path / "shards"

    def _init(self) -> None:
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        meta = self.path / "store.json"
        if not meta.exists():
            _atomic_write_bytes(meta, json.dumps({"schema_version": self.schema_version,
                                                  "trajlen_version": __version__}).encode())

    @staticmethod
    def shard_name(task_ids: Sequence[str]) -> str:
        return hashlib.sha256("\n".join(sorted(task_ids)).encode()).hexdigest()[:20]

    def write_shard(self, rows: Sequence[dict]) -> Path:
        """Write rows as one shard, atomically (temporary file in the same directory, then rename)."""
        self._init()
        df = pd.DataFrame(list(rows))
        target = self.shard_dir / f"{self.shard_name([r['task_id'] for r in rows])}.parquet"
        fd, tmp = tempfile.mkstemp(dir=self.shard_dir, prefix=".tmp-", suffix=".parquet")
        os.close(fd)
        try:
            df.to_parquet(tmp, index=False)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target

    def shards(self) -> list[Path]:
        if not self.shard_dir.is_dir():
            return []
        return sorted(p for p in self.shard_dir.glob("*.parquet") if not p.name.startswith("."))

    def read(self) -> pd.DataFrame:
        """All rows of readable shards, one per task id, sorted by task id."""
        frames = []
        for shard in self.shards():
            try:
                df = pd.read_parquet(shard)
                if "task_id" not in df.columns:
                    raise ValueError("no task_id column")
            except Exception as e:  # any unreadable shard is set aside, whatever the reader raised
                bad = shard.with_suffix(".corrupt")
                warnings.warn(f"result shard {shard.name} is unreadable ({type(e).__name__}: {e}); "
                              f"moved to {bad.name}, its tasks will be recomputed", stacklevel=2)
                os.replace(shard, bad)
                continue
            if "schema_version" in df.columns and (df["schema_version"] != self.schema_version).any():
                raise SchemaMismatch(f"shard {shard} has another schema version")
            frames.append(df)
        if not frames:
            return pd.DataFrame()
        df = pd.concat(frames, ignore_index=True)
        df = df.drop_duplicates("task_id", keep="last").sort_values("task_id", kind="stable")
        return df.reset_index(drop=True)

    def done_ids(self) -> set[str]:
        df = self.read()
        return set() if df.empty else set(df["task_id"])

    def consolidate(self) -> pd.DataFrame:
        """Rewrite ``results.parquet`` and ``results.csv`` from the shards; return the table."""
        df = self.read()
        if df.empty:
            return df
        self._init()
        _atomic_write(df, self.path / "results.parquet")
        csv = df.copy()
        for col in LIST_COLUMNS:
            if col in csv.columns:
                csv[col] = [json.dumps([float(v) for v in x]) for x in csv[col]]
        _atomic_write_bytes(self.path / "results.csv", csv.to_csv(index=False).encode())
        return df


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _atomic_write(df: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def read_results(path: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Read results from a store directory, a ``.parquet``/``.csv`` file, or several of them.

    List columns (per-layer lengths) come back as lists whatever the file type.
    """
    if not isinstance(path, (str, Path)):
        frames = [read_results(p) for p in path]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    p = Path(path)
    if p.is_dir():
        if (p / "store.json").exists() or (p / "shards").is_dir():
            meta = json.loads((p / "store.json").read_text()) if (p / "store.json").exists() else {}
            return ResultStore(p, meta.get("schema_version", 1)).read()
        raise SpecError(f"{str(p)!r} is a directory but not a trajlen result store")
    if not p.exists():
        raise SpecError(f"results file {str(p)!r} does not exist")
    try:
        if p.suffix == ".parquet":
            df = pd.read_parquet(p)
        elif p.suffix == ".csv":
            df = pd.read_csv(p)
            for col in LIST_COLUMNS:
                if col in df.columns:
                    df[col] = [json.loads(x) if isinstance(x, str) else x for x in df[col]]
        else:
            raise SpecError(f"results file {str(p)!r} must be .parquet or .csv")
    except SpecError:
        raise
    except Exception as e:
        raise SpecError(f"results file {str(p)!r} is unreadable: {type(e).__name__}: {e}") from None
    return df
