"""Pipeline stage 6 (plans) — which task ids the sweeps of a store planned: what "foreign" means.

Stores are shared by sweeps over time (a rerun with more samples adds tasks), so a shard is judged
against every plan, not only the current sweep's. Each locked sweep records its task ids in
``OUT/planned/<hash of the ids>.ids`` (sorted, one per line, written atomically): rerunning the same
sweep adds nothing, and a shard holding an id that no file lists was never written by this store.
A damaged plan can only make a shard look foreign (set aside, recomputed), never accept one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from .atomic import atomic_write_bytes

__all__ = ["Plans", "ids_hash"]


def ids_hash(task_ids: Iterable[str]) -> str:
    """20 hex digits naming a set of task ids (also the name of a shard holding exactly them)."""
    return hashlib.sha256("\n".join(sorted(task_ids)).encode()).hexdigest()[:20]


class Plans:
    """The plan files of one store; :meth:`ids` is cached by the files' names and stats (a sweep
    asks before every shard it writes). OS errors propagate to the caller."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self._files: dict[str, tuple] = {}
        self._union: tuple = (None, frozenset())

    def record(self, task_ids: Iterable[str]) -> None:
        ids = sorted(set(task_ids))
        if not ids:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        target = self.dir / f"{ids_hash(ids)}.ids"
        if not target.exists():
            atomic_write_bytes(target, ("\n".join(ids) + "\n").encode())

    def ids(self) -> frozenset[str]:
        """Every task id any plan lists."""
        if not self.dir.is_dir():
            return frozenset()
        stats = {}
        for f in sorted(self.dir.glob("*.ids")):
            try:
                st = f.stat()
            except FileNotFoundError:
                continue
            stats[f.name] = (st.st_mtime_ns, st.st_size)
        key = tuple(sorted(stats.items()))
        if key == self._union[0]:
            return self._union[1]
        union: set[str] = set()
        for name, stat in stats.items():
            hit = self._files.get(name)
            if hit is None or hit[0] != stat:
                hit = (stat, frozenset((self.dir / name).read_text(errors="replace").split()))
                self._files[name] = hit
            union |= hit[1]
        self._union = (key, frozenset(union))
        return self._union[1]
