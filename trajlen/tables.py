"""Pipeline stage 7 (results) — reading result tables: a store directory (without its lock), a
``results.parquet`` / ``results.csv``, or several of them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .measures import ROW_LISTS as LIST_COLUMNS
from .spec import SpecError

__all__ = ["read_results"]


def _first_line(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


def read_results(path: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Read results from a store directory, a ``.parquet``/``.csv`` file, or several of them.

    A store is read without its lock: bad shards are reported and skipped, never moved. List columns
    (per-layer lengths) come back as lists whatever the file type.
    """
    if not isinstance(path, (str, Path)):
        frames = [read_results(p) for p in path]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    p = Path(path)
    if p.is_dir():
        if (p / "store.json").exists() or (p / "shards").is_dir():
            try:
                meta = json.loads((p / "store.json").read_text()) if (p / "store.json").exists() else {}
            except (OSError, ValueError) as e:
                raise SpecError(f"{str(p)!r}: store.json is unreadable ({_first_line(e)})") from None
            from .results import ResultStore

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
