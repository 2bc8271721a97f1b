"""Pipeline stage 6 — the results store: append-safe, resumable, one verified Parquet shard per chunk.

A store is a directory::

    OUT/store.json           schema version, store format, every trajlen version that wrote to it
    OUT/shards/<id>.parquet  rows of one chunk (:mod:`trajlen.shards`: schema + content hash)
    OUT/planned/<id>.ids     the task ids one locked sweep planned (:mod:`trajlen.plans`)
    OUT/results.parquet      consolidated table; ``results.csv`` the same for humans
    OUT/tmp/, OUT/logs/      workers' scratch (emptied by every locked run) and dask's logs

Shard names are the hash of the chunk's task ids, so two writers never race for a name and a rerun
of the same chunk overwrites rather than duplicates. Every shard read is verified as a whole
(:func:`trajlen.shards.decode`; its rows must match its name). What is not merged into the table:
a shard that fails verification (*corrupt*: the locked writer moves it to ``*.corrupt`` and its
tasks are computed again); a shard holding a task id no locked sweep of this store planned
(*foreign*, e.g. copied from another sweep: moved to ``*.foreign``); shards sharing a task id
(*overlap*: all moved to ``*.overlap``, their tasks recomputed). Each is reported in one line.

Readers without the lock (:func:`read_results`, ``python -m trajlen.bounds``, ``reproduce
--draw-only``) only report: they never rename or delete. An OS error or ``MemoryError`` while reading
is never taken for corruption: it raises :class:`StoreError` (one line) and nothing is moved. A store
written by another schema version raises :class:`SchemaMismatch`; one written by another trajlen
version is reported when a sweep starts (rows keep their ``trajlen_version`` column); a store from
before content hashes (store format 1) has its shards set aside as ``*.unverified`` and recomputed.
One sweep at a time writes to a store (:meth:`ResultStore.lock`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from . import __version__
from . import shards as SH
from .atomic import atomic_write_bytes as _atomic_write_bytes
from .atomic import atomic_write_parquet as _atomic_write
from .measures import ROW_LISTS as LIST_COLUMNS
from .plans import Plans, ids_hash
from .spec import SpecError
from .trajectory import STATUS_OK, STATUS_WORKER_DIED

__all__ = ["ResultStore", "read_results", "SchemaMismatch", "StoreLocked", "StoreError",
           "CorruptShardWarning", "STORE_FORMAT"]

#: 1: shards without content hashes or plans; 2: verified shards, ``planned/`` manifests.
STORE_FORMAT = 2


class SchemaMismatch(SpecError):
    """A store written by another schema version: results are never silently mixed."""


class StoreLocked(SpecError):
    """Another sweep is writing to the same store."""


class StoreError(SpecError):
    """The store could not be read or written for a reason outside it (permissions, memory, I/O)."""


class CorruptShardWarning(UserWarning):
    """A shard failed verification (or is foreign, or overlaps another); it is not merged."""


def _first_line(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


class ResultStore:
    """A directory of result shards. See the module docstring for the layout and guarantees."""

    def __init__(self, path: str | Path, schema_version: int):
        self.path = Path(path)
        self.schema_version = schema_version
        self._cache: dict[str, tuple] = {}
        self._writer = False
        self.meta: dict = {}
        self._plans = Plans(self.path / "planned")
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
                self.meta = json.loads(meta.read_text())
                found = self.meta["schema_version"]
            except PermissionError as e:
                raise StoreError(f"--out {str(self.path)!r}: cannot read store.json ({_first_line(e)})"
                                 ) from None
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

    @property
    def plan_dir(self) -> Path:
        return self.path / "planned"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space of this sweep's workers; emptied by every locked run (:meth:`lock`)."""
        return self.path / "tmp"

    @property
    def log_dir(self) -> Path:
        return self.path / "logs"

    @property
    def store_format(self) -> int:
        return int(self.meta.get("store_format", 1)) if self.meta else STORE_FORMAT

    def written_by(self) -> list[str]:
        """Every trajlen version recorded as having written to this store."""
        seen = [self.meta.get("trajlen_version")] + list(self.meta.get("written_by", []))
        return list(dict.fromkeys(str(v) for v in seen if v))

    def record_writers(self, versions: Iterable[str]) -> None:
        """Add ``versions`` (of rows about to be copied in from another store) to :meth:`written_by`,
        warning, as :meth:`lock` does, where they are not this trajlen's."""
        versions = list(dict.fromkeys(map(str, versions)))
        others = [v for v in versions if v != __version__]
        if others:
            warnings.warn(self._versions_note("receives copied rows written by", others),
                          CorruptShardWarning, stacklevel=3)
        new = [v for v in versions if v not in self.written_by()]
        if new:
            self.meta["written_by"] = [*self.meta.get("written_by", []), *new]
            self._write_meta()

    def _versions_note(self, what: str, others: Sequence[str]) -> str:
        return (f"--out {str(self.path)!r} {what} trajlen {', '.join(others)} (this is {__version__}); "
                "each row's trajlen_version column says which; use a new --out to keep versions apart")

    def _write_meta(self) -> None:
        _atomic_write_bytes(self.path / "store.json", json.dumps(self.meta, indent=1).encode())

    def _init(self) -> None:
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        if not (self.path / "store.json").exists():
            self.meta = {"schema_version": self.schema_version, "store_format": STORE_FORMAT,
                         "trajlen_version": __version__, "written_by": [__version__]}
            self._write_meta()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the store for one sweep; create the store; clear stale files.

        The lock is an ``flock`` on ``OUT/.lock``: the kernel drops it when the process dies (even
        by SIGKILL), so a crashed sweep never leaves the store locked. Temporary files and worker
        scratch (``OUT/tmp``) left by a killed writer are removed here, which is safe only because no
        other writer can be active. Only while the lock is held does :meth:`read` set shards aside.
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
            for d in (self.path, self.shard_dir, self.plan_dir):
                for tmp in d.glob(".tmp-*"):
                    with contextlib.suppress(OSError):
                        tmp.unlink()
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self._start_report()
            self._writer = True
            try:
                yield
            finally:
                self._writer = False
                shutil.rmtree(self.tmp_dir, ignore_errors=True)
        finally:
            fh.close()

    def _start_report(self) -> None:
        """Under the lock: report other trajlen versions, upgrade a store from before content
        hashes (its shards cannot be verified: set aside, recomputed), record this version."""
        others = [v for v in self.written_by() if v != __version__]
        if others:
            warnings.warn(self._versions_note("holds rows written by", others), CorruptShardWarning,
                          stacklevel=4)
        if self.store_format < STORE_FORMAT:
            old = self.shards()
            for shard in old:
                self._set_aside(shard, ".unverified")
            warnings.warn(f"--out {str(self.path)!r} was written before shards carried content hashes "
                          f"(store format {self.store_format}): its {len(old)} shard(s) are set aside as "
                          "*.unverified and their tasks will be recomputed", CorruptShardWarning,
                          stacklevel=4)
            self.meta["store_format"] = STORE_FORMAT
        if __version__ not in self.meta.get("written_by", []) or self.store_format < STORE_FORMAT:
            self.meta["written_by"] = [*self.meta.get("written_by", []), __version__]
            self._write_meta()

    def plan(self, task_ids: Sequence[str]) -> None:
        """Record that a sweep of this store plans ``task_ids``: their shards are not foreign
        (:mod:`trajlen.plans`)."""
        self._plans.record(task_ids)

    def planned_ids(self) -> frozenset[str]:
        """Every task id any locked sweep of this store planned."""
        try:
            return self._plans.ids()
        except (OSError, MemoryError) as e:
            raise StoreError(f"cannot read the plans in {self.plan_dir}: {_first_line(e)}") from None

    @staticmethod
    def shard_name(task_ids: Sequence[str]) -> str:
        return ids_hash(task_ids)

    def write_shard(self, rows: Sequence[dict]) -> Path:
        """Write rows as one shard, atomically (temporary file in the same directory, then rename).
        Their task ids are added to the plan if a sweep did not plan them (:meth:`plan`)."""
        if not rows:
            raise ValueError("a shard needs at least one row")
        self._init()
        ids = [r["task_id"] for r in rows]
        data, table = SH.encode_table(rows)
        if not set(ids) <= self.planned_ids():
            self.plan(ids)
        target = self.shard_dir / f"{self.shard_name(ids)}.parquet"
        _atomic_write_bytes(target, data, suffix=".parquet")
        # What :meth:`_read_shard` would parse back from these bytes (which, just written, it would
        # read from the page cache, not the disk): kept, so consolidating a sweep of many shards
        # does not decode and re-hash each (0.3 s of 113 measured serial at the end of a sweep).
        st = target.stat()
        self._cache[target.name] = ((target.name, st.st_mtime_ns, st.st_size), table)
        return target

    def shards(self) -> list[Path]:
        if not self.shard_dir.is_dir():
            return []
        return sorted(p for p in self.shard_dir.glob("*.parquet") if not p.name.startswith("."))

    def _read_shard(self, shard: Path):
        """One shard as a verified pyarrow Table; cached by (name, mtime, size): shards are
        immutable once renamed into place, so a sweep reads each one once. OS errors propagate;
        anything wrong with the bytes raises :class:`trajlen.shards.ShardError`."""
        st = shard.stat()
        key = (shard.name, st.st_mtime_ns, st.st_size)
        hit = self._cache.get(shard.name)
        if hit is not None and hit[0] == key:
            return hit[1]
        data = shard.read_bytes()
        try:
            table = SH.decode(data)
        except SH.ShardError:
            found = SH.undigested_schema_versions(data)
            if found and found != {self.schema_version}:
                raise SchemaMismatch(f"shard {shard} has schema version {sorted(found)}, this trajlen "
                                     f"writes {self.schema_version}; use a new --out directory") from None
            raise
        ids = table.column("task_id").to_pylist()
        # The name is the hash of the task ids written: a shard missing rows (or with extra ones)
        # is as untrustworthy as an unreadable one.
        if len(set(ids)) != len(ids) or self.shard_name(ids) != shard.stem:
            raise SH.ShardError(f"its {table.num_rows} rows do not match its name")
        found = set(table.column("schema_version").to_pylist())
        if found != {self.schema_version}:
            raise SchemaMismatch(f"shard {shard} has schema version {sorted(found)}, this trajlen "
                                 f"writes {self.schema_version}; use a new --out directory")
        self._cache[shard.name] = (key, table)
        return table

    def _set_aside(self, shard: Path, suffix: str) -> Path:
        bad = shard.with_suffix(suffix)
        with contextlib.suppress(FileNotFoundError):
            os.replace(shard, bad)
        self._cache.pop(shard.name, None)
        return bad

    def _verified(self) -> list[tuple[Path, object]]:
        """(path, table) of every shard that passes verification; the others reported (and, under
        the lock, set aside as ``*.corrupt``). OS and memory errors raise :class:`StoreError`."""
        out = []
        for shard in self.shards():
            try:
                out.append((shard, self._read_shard(shard)))
            except FileNotFoundError:  # set aside meanwhile by the writer
                continue
            except SH.ShardError as e:
                what = str(e).splitlines()[0]
                if self._writer:
                    bad = self._set_aside(shard, ".corrupt")
                    tail = f"moved to {bad.name}, its tasks will be recomputed"
                else:
                    tail = "not read (the next sweep on this store sets it aside and recomputes it)"
                warnings.warn(f"result shard {shard.name} is unreadable ({what}); {tail}",
                              CorruptShardWarning, stacklevel=3)
            except (OSError, MemoryError) as e:
                raise StoreError(f"cannot read result shard {shard}: {_first_line(e)}") from None
        return out

    def _mergeable(self, valid: list[tuple[Path, object]]) -> list:
        """The tables of ``valid`` that are neither foreign nor overlapping (module docstring)."""
        planned = self.planned_ids()
        owner: dict[str, Path] = {}
        foreign, overlap = [], set()
        for shard, table in valid:
            ids = table.column("task_id").to_pylist()
            if not planned.issuperset(ids):
                foreign.append(shard)
                continue
            for i in ids:
                if owner.setdefault(i, shard) != shard:
                    overlap |= {owner[i], shard}
        for bad, suffix, what in ((foreign, ".foreign", "hold task ids no sweep of this store planned"),
                                  (sorted(overlap), ".overlap", "hold the same task ids")):
            if not bad:
                continue
            names = ", ".join(p.name for p in bad[:3]) + (", ..." if len(bad) > 3 else "")
            if self._writer:
                for p in bad:
                    self._set_aside(p, suffix)
                tail = f"moved to *{suffix}" + (", their tasks will be recomputed"
                                                 if suffix == ".overlap" else "")
            else:
                tail = "not merged"
            warnings.warn(f"{len(bad)} result shard(s) {what} ({names}); {tail}",
                          CorruptShardWarning, stacklevel=3)
        skip = set(foreign) | overlap
        return [t for p, t in valid if p not in skip]

    def read(self) -> pd.DataFrame:
        """All rows of verified, planned, non-overlapping shards, one per task id, sorted by task id."""
        import pyarrow as pa

        if self.meta and self.store_format < STORE_FORMAT and not self._writer:
            warnings.warn(f"--out {str(self.path)!r} was written before shards carried content hashes "
                          "(store format 1): nothing in it can be verified, so nothing is read; rerun "
                          "its sweep to recompute it", CorruptShardWarning, stacklevel=2)
            return pd.DataFrame()
        tables = self._mergeable(self._verified())
        if not tables:
            return pd.DataFrame()
        df = pa.concat_tables(tables).to_pandas()  # one schema: verified on read
        df = df.sort_values("task_id", kind="stable")
        return df.reset_index(drop=True)

    def done_ids(self, retry_failed: bool = False) -> set[str]:
        """Task ids the store holds rows for (only the successful ones with ``retry_failed``)."""
        df = self.read()
        if df.empty:
            return set()
        return set(df.loc[df["status"] == "ok", "task_id"] if retry_failed else df["task_id"])

    def rows_of(self, task_ids: set[str], ok_only: bool = False) -> list[dict]:
        """The rows this store holds for ``task_ids`` as :meth:`write_shard` takes them: never a
        dead worker's, only ``ok`` ones with ``ok_only``. Reads only, so it needs no lock."""
        rows = []
        for table in self._mergeable(self._verified()):
            ids = table.column("task_id").to_pylist()
            status = table.column("status").to_pylist()
            keep = [i for i, (t, s) in enumerate(zip(ids, status))
                    if t in task_ids and s != STATUS_WORKER_DIED and (s == STATUS_OK or not ok_only)]
            if keep:
                rows += table.take(keep).to_pylist()
        return rows

    def drop_tasks(self, task_ids: set[str]) -> int:
        """Under the lock: remove the rows of ``task_ids`` from the store (to compute them again,
        ``--retry-failed``). A shard holding other rows too is rewritten without them (the new shard
        is in place before the old one goes). Returns the number of rows removed."""
        if not self._writer:
            raise RuntimeError("drop_tasks needs the store's lock")
        removed = 0
        for shard, table in self._verified():
            ids = table.column("task_id").to_pylist()
            gone = [i for i in ids if i in task_ids]
            if not gone:
                continue
            keep = [r for r in table.to_pylist() if r["task_id"] not in task_ids]
            if keep:
                self.write_shard(keep)
            shard.unlink()
            self._cache.pop(shard.name, None)
            removed += len(gone)
        return removed

    def record_command(self, argv: Sequence[str]) -> None:
        """Under the lock: add the command line of this run to ``store.json`` (``commands``)."""
        import time

        self.meta.setdefault("commands", []).append(
            {"argv": list(argv), "trajlen_version": __version__,
             "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        self._write_meta()

    def probe_writable(self) -> None:
        """Under the lock, before any work: can shards be written here? (one line if not)."""
        try:
            _atomic_write_bytes(self.shard_dir / ".probe", b"")
            (self.shard_dir / ".probe").unlink()
        except OSError as e:
            raise StoreError(f"--out {str(self.path)!r}: cannot write result shards there "
                             f"({_first_line(e)})") from None

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


from .tables import read_results  # noqa: E402 - re-exported: where readers look for it
