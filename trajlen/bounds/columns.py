"""Pipeline stage 8 (bounds) — the columns a bound or a conjecture may name, derived from a results table."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..spec import SpecError

__all__ = ["DERIVED_COLUMNS", "theorem_columns", "evaluate_bound"]

#: Columns :func:`theorem_columns` derives (besides every numeric column of the table).
DERIVED_COLUMNS = {
    "k": "width",
    "d": "depth (the bounded layer)",
    "sigma_w": "σ_w, std of the N(0, σ_w²/k) weight draw (see module docstring for the convention)",
    "sigma_b": "σ_b, std of the N(0, σ_b²) bias draw",
    "dt": "input step δt = 2π/(n_samples − 1) (the solver's fixed step is solver_dt)",
    "solver_dt": "the fixed-step solvers' step (spec field SolverSpec.dt)",
    "l_input": "l(I), the input's length",
    "pi": "π",
}


#: Measured outputs a bound must not be a function of (and bookkeeping columns).
_NOT_BOUND_INPUTS = {"dt", "length", "bound", "ratio", "wall_s", "seed", "sample", "schema_version",
                     "var_pc1", "var_pc2"}


def theorem_columns(df: pd.DataFrame, sigma: str = "theorem") -> dict[str, np.ndarray]:
    """Arrays, one entry per row, that bounds and conjectures may name.

    Every numeric column of ``df`` (``width, depth, sigma_w2, sigma_b2, L, z_norm, z_norm_code,
    n_samples, length, …``) plus :data:`DERIVED_COLUMNS`. ``sigma="theorem"``: σ_w, σ_b of the draws
    actually made (``var_over_k``: sqrt of the labels; ``std_label``: ``σ_w = sigma_w2·√k``,
    ``σ_b = sigma_b2``); ``sigma="label"``: ``σ_w = sqrt(sigma_w2)``, ``σ_b = sqrt(sigma_b2)``.
    """
    if sigma not in ("theorem", "label"):
        raise SpecError(f"sigma convention must be one of theorem, label, got {sigma!r}")
    missing = [c for c in ("width", "depth", "sigma_w2", "sigma_b2") if c not in df.columns]
    if missing:
        raise SpecError(f"results table lacks the column(s) {', '.join(missing)} every bound needs")
    cols: dict[str, np.ndarray] = {}
    for c in df.columns:
        if c in _NOT_BOUND_INPUTS:
            continue
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            cols[c] = s.to_numpy(dtype=np.float64)
    n = len(df)
    k = df["width"].to_numpy(dtype=np.float64)
    s2w = df["sigma_w2"].to_numpy(dtype=np.float64)
    s2b = df["sigma_b2"].to_numpy(dtype=np.float64)
    if sigma == "label" or "weight_init" not in df.columns:
        std_label = np.zeros(n, dtype=bool)
    else:
        std_label = (df["weight_init"] == "std_label").to_numpy()
    cols["k"] = k
    cols["d"] = df["depth"].to_numpy(dtype=np.float64)
    cols["sigma_w"] = np.where(std_label, s2w * np.sqrt(k), np.sqrt(s2w))
    cols["sigma_b"] = np.where(std_label, s2b, np.sqrt(s2b))
    ns = (df["n_samples"] if "n_samples" in df.columns else pd.Series(100, index=df.index))
    cols["dt"] = 2.0 * math.pi / (ns.to_numpy(dtype=np.float64) - 1.0)
    if "dt" in df.columns:
        cols["solver_dt"] = df["dt"].to_numpy(dtype=np.float64)
    if "l_input" not in cols:
        cols["l_input"] = np.full(n, 2.0 * math.pi)
    cols["pi"] = np.full(n, math.pi)
    return cols


def evaluate_bound(func: Callable[..., Any], cols: Mapping[str, Any]) -> np.ndarray:
    """Call ``func`` with the columns named by its parameters; an unknown name is a SpecError that
    lists the valid names."""
    params = inspect.signature(func).parameters
    missing = [p for p, v in params.items() if p not in cols and v.default is inspect.Parameter.empty]
    if missing:
        raise SpecError(f"bound {getattr(func, '__name__', func)!r} needs column(s) "
                        f"{', '.join(missing)} that the results lack; valid names: "
                        f"{', '.join(sorted(cols))}")
    with np.errstate(all="ignore"):
        # copies: a function that writes into its arguments must not change the table's columns
        out = func(**{p: np.array(cols[p], copy=True) for p in params if p in cols})
    shape = np.shape(next(iter(cols.values())))
    try:
        return np.broadcast_to(np.asarray(out, dtype=np.float64), shape).copy()
    except (TypeError, ValueError) as e:
        raise SpecError(f"bound {getattr(func, '__name__', func)!r} must return a number or one "
                        f"value per row ({shape[0] if shape else 1}), got {type(out).__name__}: "
                        f"{' '.join(str(e).split())[:120]}") from None
