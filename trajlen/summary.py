"""Pipeline stage 7 (results) — what a researcher reads after a sweep: per configuration the median
length with its 95 % interval, L, failures; what was run; and paired model comparisons.

Reads result tables only (:func:`trajlen.results.read_results`); the statistics are
:mod:`trajlen.stats`'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .activations import ACTIVATIONS
from .stats import mean_is_carried, median_ci, paired_ratio

__all__ = ["summarize", "failure_counts", "format_failures", "format_summary", "describe_run",
           "paired_comparisons", "CONFIG_COLUMNS"]

#: The columns that identify a configuration (what a summary groups by when they vary).
CONFIG_COLUMNS = ("semantics", "model", "activation", "width", "depth", "sigma_w2", "sigma_b2",
                  "weight_init", "recurrence", "ltc_decay", "ltc_A", "hardtanh", "input_kind",
                  "n_samples", "method", "controller", "rtol", "atol", "output", "refine",
                  "grid_points", "backend", "params_path", "input_gain", "input_omega", "transient",
                  "perturb")
_MODEL_NAMES = {"node": "N-ODE", "ctrnn": "CT-RNN", "ltc": "LTC", "mlp": "static"}


def _varying(df: pd.DataFrame) -> list[str]:
    keep = [c for c in CONFIG_COLUMNS if c in df.columns and df[c].astype(str).nunique() > 1]
    return keep if "model" in keep else ["model"] + keep


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per configuration (the varying :data:`CONFIG_COLUMNS`): n, failures, the median length with its
    95 % order-statistic interval (``length_lo``, ``length_hi``), the median full-space length, mean ±
    std and median of L, median steps per input interval, and ``L_mean_carried`` — the mean of L is
    carried by the smallest time constants (L ∝ 1/τ_min; quote the median). Where the rows carry
    round-off spreads (``--perturb``): their medians ``length_spread_median``, ``L_spread_median``
    and ``spread_exceeds_rtol`` — the median length spread is larger than the cell's rtol, so its
    single networks' lengths are not reproducible numbers."""
    if df.empty:
        return pd.DataFrame()
    by = _varying(df)
    out = []
    for key, g in df.groupby(by, sort=True, dropna=False):
        ok = g[g["status"] == "ok"]
        length = median_ci(ok["length"])
        fails = g.loc[g["status"] != "ok", "status"].value_counts()
        rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        rec.update(n=len(g), n_failed=int(len(g) - len(ok)), length_median=length.median,
                   length_lo=length.low, length_hi=length.high,
                   length_full_median=float(np.median(ok["length_full"])) if "length_full" in ok
                   and len(ok) else np.nan,
                   L_mean=ok["L"].mean(), L_std=ok["L"].std(ddof=1) if len(ok) > 1 else np.nan,
                   L_median=ok["L"].median(),
                   steps_per_interval_median=ok["steps_per_interval"].median(),
                   L_mean_carried=bool("tau_min" in ok and g["model"].iloc[0] != "node"
                                       and mean_is_carried(ok["L"], ok["tau_min"])),
                   failures=", ".join(f"{k}: {v}" for k, v in fails.items()) or "0")
        rec.update(_spreads(ok))
        out.append(rec)
    return pd.DataFrame(out)


def _spreads(ok: pd.DataFrame) -> dict:
    """The perturbation-spread entries of a summary cell (none when its rows were not perturbed)."""
    if "length_spread" not in ok or not np.isfinite(ok["length_spread"]).any():
        return {}
    med = float(np.nanmedian(ok["length_spread"]))
    return {"length_spread_median": med, "L_spread_median": float(np.nanmedian(ok["L_spread"])),
            "spread_exceeds_rtol": bool(med > float(ok["rtol"].iloc[0]))}


def failure_counts(df: pd.DataFrame) -> dict[str, int]:
    """Failure rows over the whole table by reason (``status``), most frequent first."""
    if df.empty or "status" not in df.columns:
        return {}
    fails = df.loc[df["status"] != "ok", "status"].value_counts()
    return {str(k): int(v) for k, v in fails.items()}


def format_failures(counts: dict[str, int], n: int) -> str:
    if not counts:
        return f"failures: none of {n}"
    total = sum(counts.values())
    return f"failures: {total} of {n} (" + ", ".join(f"{k}: {v}" for k, v in counts.items()) + ")"


def format_summary(summary: pd.DataFrame) -> str:
    """The summary table as text: length median [95 % interval], L mean ± std (median), steps per
    interval; a mark on means of L that the smallest τ carries, explained below the table."""
    if summary.empty:
        return "no results"
    s = summary.copy()
    s["length median [95% CI]"] = [
        f"{m:.4g} [{lo:.4g}, {hi:.4g}]" if np.isfinite(lo) else (f"{m:.4g} [n < 6]" if np.isfinite(m)
                                                               else "—")
        for m, lo, hi in zip(s.pop("length_median"), s.pop("length_lo"), s.pop("length_hi"))]
    carried = s.pop("L_mean_carried")
    s["L mean ± std (median)"] = [f"{m:.3g} ± {d:.2g}{' *' if c else ''} ({md:.3g})"
                                  for m, d, md, c in zip(s.pop("L_mean"), s.pop("L_std"),
                                                         s.pop("L_median"), carried)]
    s["steps/interval"] = [f"{v:.3g}" for v in s.pop("steps_per_interval_median")]
    flagged = _spread_column(s)
    s = s.drop(columns=["n_failed", "length_full_median"])
    text = s.to_string(index=False)
    if carried.any():
        text += ("\n* this mean is carried by the networks with the smallest time constant "
                 "(L·τ_min varies less than L; E[1/τ_min] is infinite): quote the median")
    if flagged:
        text += ("\n! the median spread of length under 1e-15 relative perturbations of the weights "
                 "exceeds rtol: single networks' lengths here are not reproducible numbers (the "
                 "step sequence is chaotic in round-off); compare distributions")
    return text


def _spread_column(s: pd.DataFrame) -> bool:
    """Replace the spread entries of a summary by one text column; True if a cell is flagged."""
    if "length_spread_median" not in s:
        return False
    flag = s.pop("spread_exceeds_rtol").fillna(False).astype(bool)
    s["spread length / L (median)"] = [
        "—" if not np.isfinite(a) else f"{a:.2g} / {b:.2g}{' !' if f else ''}"
        for a, b, f in zip(s.pop("length_spread_median"), s.pop("L_spread_median"), flag)]
    return bool(flag.any())


def _fixed(df: pd.DataFrame, col: str):
    vals = df[col].dropna().unique() if col in df.columns else []
    return vals[0] if len(vals) == 1 else None


def describe_run(df: pd.DataFrame) -> list[str]:
    """What the rows hold, in words: the configuration shared by every row, the input's own length
    l(I), which layer ``length`` is, and which count ``L`` is."""
    if df.empty:
        return []
    f = {c: _fixed(df, c) for c in CONFIG_COLUMNS + ("l_input",)}
    parts = []
    if f["semantics"]:
        parts.append(f"{f['semantics']} semantics")
    if f["activation"]:
        act = f["activation"]
        if act == "hardtanh" and f["hardtanh"] == "matlab":
            act = "hardtanh (MATLAB's layer-wise Htanh)"
        parts.append(act if act in ACTIVATIONS or "Htanh" in act else str(act))
    for col, label in (("width", "k"), ("depth", "depth"), ("sigma_w2", "σ_w²"), ("sigma_b2", "σ_b²")):
        if f[col] is not None:
            parts.append(f"{label} = {f[col]:g}" if isinstance(f[col], float) else f"{label} = {f[col]}")
    if f["weight_init"]:
        parts.append("weights with std σ_w² (no 1/k)" if f["weight_init"] == "std_label"
                     else "weights N(0, σ_w²/k)")
    words = (f["method"], f["controller"] and f"{f['controller']} rules",
             f["rtol"] and f"rtol {f['rtol']:g}", f["atol"] and f"atol {f['atol']:g}",
             f["backend"] and f"on {f['backend']}")
    solver = " ".join(str(v) for v in words if v)
    if solver:
        parts.append(solver)
    out = {"steps": "the solver's steps", "refine": f"the steps + Refine {f['refine']}",
           "grid": f"a uniform grid of {f['grid_points']} points"}.get(f["output"] or "")
    lines = ["run: " + ", ".join(parts)]
    depth = f["depth"]
    layer = f"layer {depth} of {depth}" if depth else "the last layer"
    where = f" on {out}" if out else ""
    li = f"; the input's own length l(I) = {f['l_input']:.6g}" if f["l_input"] is not None else ""
    lines.append(f"length: PCA (2-D) length of {layer}{where}{li}")
    refine, ns = f["refine"], f["n_samples"]
    lines += _input_lines(f)
    if refine is not None and ns is not None:
        steps = "accepted steps" if not f["transient"] else "accepted steps ending in [T, T + 2π]"
        lines.append(f"L = {refine} × {steps} / {ns} input samples (the Refine points the "
                     f"authors' main.m counts); steps/interval = {steps} / {ns - 1} input "
                     "intervals")
    return lines


def _input_lines(f: dict) -> list[str]:
    """What describe_run says about an input that is not the paper's (off, gain, ω, transient)."""
    parts = []
    if f["input_kind"] == "off":
        parts.append("off (I ≡ 0: the bias-driven trajectory from x(0) = 0)")
    for col, label in (("input_gain", "gain"), ("input_omega", "ω")):
        if f.get(col) is not None and f[col] != 1.0:
            parts.append(f"{label} = {f[col]:g}")
    if f.get("transient"):
        parts.append(f"integrated over [0, T + 2π] and measured on the last period [T, T + 2π], "
                     f"T = {f['transient']:g} (the steady orbit)")
    return ["input: " + ", ".join(parts)] if parts else []


def paired_comparisons(df: pd.DataFrame) -> list[str]:
    """LTC and CT-RNN against the N-ODE on the same random networks (common random numbers: the same
    sample of one configuration is the same draw for every model): the median length ratio with its
    95 % interval and a Wilcoxon signed-rank p, per configuration the models share."""
    if df.empty or "model" not in df.columns:
        return []
    ok = df[df["status"] == "ok"]
    if "params_path" in ok.columns:     # a drawn network's path is null: index it as ""
        ok = ok.assign(params_path=ok["params_path"].fillna(""))
    by = [c for c in _varying(ok) if c not in ("model", "params_path")]
    lines = []
    groups = ok.groupby(by, sort=True, dropna=False) if by else [((), ok)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        ref = g[g["model"] == "node"].set_index(["sample", "params_path"] if "params_path" in g
                                                else ["sample"])["length"]
        for m in ("ctrnn", "ltc"):
            other = g[g["model"] == m].set_index(ref.index.names)["length"]
            both = ref.index.intersection(other.index)
            if len(both) < 2:
                continue
            r = paired_ratio(other.loc[both], ref.loc[both])
            where = ", ".join(f"{c}={v}" for c, v in zip(by, key))
            lines.append(f"{_MODEL_NAMES[m]} / N-ODE length{' [' + where + ']' if where else ''}: "
                         f"{r.format()}")
    return lines
