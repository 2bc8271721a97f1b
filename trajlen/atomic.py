"""Durable, atomic file writes for the results store: a reader sees the old file or the whole new one.

Every file is written to a temporary name (``.tmp-*``, in the same directory so the rename cannot
cross filesystems), fsynced, renamed onto its target, and the directory fsynced. A writer killed at
any moment leaves at most a ``.tmp-*`` file, which the next locked sweep removes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["atomic_write_bytes", "atomic_write_parquet"]


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Files get the permissions an ordinary ``open`` would give them (0644 under the usual umask 022);
#: ``mkstemp`` creates them 0600, which would hide a colleague's results from them.
FILE_MODE = 0o666 & ~_umask()


def _atomic_replace(tmp: str, path: Path) -> None:
    """fsync ``tmp``, rename it onto ``path``: readers see the old file or the whole new one."""
    try:
        os.chmod(tmp, FILE_MODE)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):  # the rename did not happen (an error or an interrupt before it)
            os.unlink(tmp)


def atomic_write_bytes(path: Path, data: bytes, suffix: str = "") -> None:
    """Write ``data`` to ``path`` atomically (module docstring)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        os.unlink(tmp)
        raise
    _atomic_replace(tmp, path)


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame as Parquet to ``path`` atomically (module docstring)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
    except BaseException:
        os.unlink(tmp)
        raise
    _atomic_replace(tmp, path)
