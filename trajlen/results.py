"""Pipeline stage 6 — the results store: append-safe, resumable, one Parquet shard per chunk.

A store is a directory::

    OUT/store.json           schema version and trajlen version that wrote it
    OUT/shards/<id>.parquet  rows of one chunk, written to a temporary name and renamed (atomic)
    OUT/results.parquet      consolidated table (rewritten by :meth:`ResultStore.consolidate`)
    OUT/results.csv          the same for humans (list columns as JSON)

Shard names are the hash of the chunk's task ids, so two writers never race for a name and a
rerun of the same chunk overwrites rather than duplicates. A shard that cannot be read, or whose
rows do not match its name (a crash mid-write on a filesystem without atomic rename, a truncated or
edited copy), is detected, set aside as ``*.corrupt`` with a :class:`CorruptShardWarning`, and its
tasks are computed again. A store written by another schema version raises :class:`SchemaMismatch`
rather than mixing tables. One sweep at a time writes to a store (:meth:`ResultStore.lock`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from . import __version__
from .spec import SpecError

__all__ = ["ResultStore", "read_results", "SchemaMismatch", "StoreLocked", "CorruptShardWarning"]

LIST_COLUMNS = ("lengths", "var_pc1_layers", "var_pc2_layers")


class SchemaMismatch(SpecError):
    """A store written by another schema version: results are never silently mixed."""


class StoreLocked(SpecError):
    """Another sweep is writing to the same store."""


class CorruptShardWarning(UserWarning):
    """A shard was unreadable or inconsistent; it was set aside and its tasks will be recomputed."""


class ResultStore:
    """A directory of result shards. See the module docstring for the layout."""

    def __init__(self, path: str | Path, schema_version: int):
        self.path = Path(path)
        self.schema_version = schema_version
        self._cache: dict[str, tuple] = {}
        try:
            is_file = self.path.exists() and not self.path.is_dir()
            meta = self.path / "store.json"
            has_meta = meta.exists()
        except (OSError, ValueError) as e:  # e.g. a NUL byte, a path too long
            raise SpecError(f"--out {str(self.path)!r} is not a usable directory: {e}") from None
        if is_file:
            raise SpecError(f"--out must be a directory for the result store, got file {str(self.path)!r}")
        if has_meta:
            try:
                found = json.loads(meta.read_text())["schema_version"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise SchemaMismatch(f"{meta} is not a trajlen store description "
                                     f"({type(e).__name__}: {e}); use a new --out directory") from None
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

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the store for one sweep; create the store; clear stale temp files.

        The lock is an ``flock`` on ``OUT/.lock``: the kernel drops it when the process dies (even
        by SIGKILL), so a crashed sweep never leaves the store locked. Temporary files left by a
        killed writer are removed here, which is safe only because no other writer can be active.
        Raises :class:`StoreLocked` if another sweep holds the lock.
        """
        try:
            self._init()
            fh = open(self.path / ".lock", "a+")
        except OSError as e:
            raise SpecError(f"--out {str(self.path)!r} is not writable: {e.strerror}") from None
        try:
            try:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # no flock (Windows): run unlocked
                pass
            except BlockingIOError:
                raise StoreLocked(f"another sweep is writing to --out {str(self.path)!r}; wait for it "
                                  "or use another directory") from None
            except OSError:  # a filesystem without flock support (some network mounts): unlocked
                pass
            for d in (self.path, self.shard_dir):
                for tmp in d.glob(".tmp-*"):
                    with contextlib.suppress(OSError):
                        tmp.unlink()
            yield
        finally:
            fh.close()

    @staticmethod
    def shard_name(task_ids: Sequence[str]) -> str:
        return hashlib.sha256("\n".join(sorted(task_ids)).encode()).hexdigest()[:20]

    def write_shard(self, rows: Sequence[dict]) -> Path:
        """Write rows as one shard, atomically (temporary file in the same directory, then rename)."""
        if not rows:
            raise ValueError("a shard needs at least one row")
        self._init()
        df = pd.DataFrame(list(rows))
        target = self.shard_dir / f"{self.shard_name([r['task_id'] for r in rows])}.parquet"
        _atomic_write(df, target)
        return target

    def shards(self) -> list[Path]:
        if not self.shard_dir.is_dir():
            return []
        return sorted(p for p in self.shard_dir.glob("*.parquet") if not p.name.startswith("."))

    def _read_shard(self, shard: Path):
        """One shard as a pyarrow Table, checked; cached by (name, mtime, size): shards are
        immutable once renamed into place, so a sweep reads each one once."""
        import pyarrow.parquet as pq

        st = shard.stat()
        key = (shard.name, st.st_mtime_ns, st.st_size)
        hit = self._cache.get(shard.name)
        if hit is not None and hit[0] == key:
            return hit[1]
        table = pq.read_table(shard)
        if "task_id" not in table.column_names:
            raise ValueError("no task_id column")
        # The name is the hash of the task ids written: a shard missing rows (or with extra ones)
        # is as untrustworthy as an unreadable one.
        if self.shard_name(table.column("task_id").to_pylist()) != shard.stem:
            raise ValueError(f"its {table.num_rows} rows do not match its name")
        if "schema_version" in table.column_names:
            found = set(table.column("schema_version").to_pylist())
            if found != {self.schema_version}:
                raise SchemaMismatch(f"shard {shard} has schema version {sorted(found)}, this trajlen "
                                     f"writes {self.schema_version}; use a new --out directory")
        self._cache[shard.name] = (key, table)
        return table

    def read(self) -> pd.DataFrame:
        """All rows of readable shards, one per task id, sorted by task id."""
        import pyarrow as pa

        tables = []
        for shard in self.shards():
            try:
                tables.append(self._read_shard(shard))
            except SchemaMismatch:
                raise
            except FileNotFoundError:  # moved away meanwhile (read by another reader as corrupt)
                continue
            except Exception as e:  # any unreadable shard is set aside, whatever the reader raised
                bad = shard.with_suffix(".corrupt")
                warnings.warn(f"result shard {shard.name} is unreadable ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}); moved to {bad.name}, "
                              "its tasks will be recomputed", CorruptShardWarning, stacklevel=2)
                with contextlib.suppress(OSError):
                    os.replace(shard, bad)
                continue
        if not tables:
            return pd.DataFrame()
        try:
            df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # incompatible column types: let pandas unify
            df = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
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
                csv[col] = [json.dumps([float("nan") if v is None else float(v) for v in x])
                            for x in csv[col]]
        _atomic_write_bytes(self.path / "results.csv", csv.to_csv(index=False).encode())
        return df


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (POSIX): fsync the directory holding it; best effort elsewhere."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_replace(tmp: str, path: Path) -> None:
    """fsync ``tmp``, rename it onto ``path``: readers see the old file or the whole new one."""
    try:
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):  # the rename did not happen (an error or an interrupt before it)
            os.unlink(tmp)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        os.unlink(tmp)
        raise
    _atomic_replace(tmp, path)


def _atomic_write(df: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
    except BaseException:
        os.unlink(tmp)
        raise
    _atomic_replace(tmp, path)


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
