"""The committed tables of the studies: results rows → per-network table → summaries with intervals.

* :func:`sample_table` — one row per network (per network and layer for multi-layer studies): the PCA
  length of SPEC §2 (``length``), the full-space chord length of the k-dimensional states
  (``length_full``, no PCA), L and the counters;
* :func:`summary_table` — per configuration: n, failures, mean ± std, median with its 95 %
  order-statistic interval (:func:`trajlen.stats.median_ci`) and quartiles of both lengths and of L;
* :func:`paired_table` — model against model on the *same* random networks (common random numbers):
  the median per-network ratio with its interval and a Wilcoxon p (:func:`trajlen.stats.paired_ratio`);
* :func:`growth_table` — per-layer growth of the layers of one deep network: the per-network factor
  ``(l_D / l_1)^{1/(D−1)}`` and every successive ratio ``l_d / l_{d−1}``, medians with intervals;
* :func:`trend_table` — growth exponent along a numeric axis (width, σ_w²): OLS slope of log length
  on log x over all networks with its 95 % t-interval (1 = linear, 0.5 = √x).

Only tables: nothing here draws. Heavy tails (one tiny-τ network can carry a mean) are why the
intervals are for medians.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from trajlen.stats import median_ci, paired_ratio

__all__ = ["CONFIG", "MEASURES", "sample_table", "summary_table", "paired_table", "growth_table",
           "trend_table", "PAIRS"]

#: Columns of the per-network table, in order (spec fields that identify a configuration first).
CONFIG = ["semantics", "model", "activation", "width", "depth", "sigma_w2", "sigma_b2", "weight_init",
          "hardtanh", "recurrence", "ltc_decay", "ltc_A", "input_kind", "n_samples", "backend",
          "method", "controller", "rtol", "atol", "output", "refine", "grid_points"]
MEASURES = ["sample", "status", "layer", "length", "length_full", "L", "steps_per_interval", "tau_min",
            "var_pc1", "var_pc2", "n_accepted", "n_rejected", "nfev", "n_points"]
#: (numerator, denominator) model pairs of :func:`paired_table`
PAIRS = (("ltc", "node"), ("ltc", "ctrnn"), ("ctrnn", "node"))
_STATS = ("length", "length_full", "L")


def _layer_value(r: pd.Series, col: str, layer: int) -> float:
    v = r.get(col)
    if v is None or (np.isscalar(v) and pd.isna(v)):
        return float("nan")
    return float(v[layer])


def sample_table(rows: pd.DataFrame, per_layer: bool = False, extra: Sequence[str] = ()) -> pd.DataFrame:
    """One row per network — or per (network, layer) with ``per_layer`` — sorted deterministically.

    ``length`` is the PCA length of that layer (``lengths``), ``length_full`` its full-space chord
    length (``lengths_full``); without ``per_layer`` both are the last layer's.
    """
    cols = [c for c in CONFIG + list(extra) if c in rows.columns]
    out = []
    for _, r in rows.iterrows():
        base = {c: r[c] for c in cols}
        base.update(sample=int(r["sample"]), status=r["status"],
                    **{c: r.get(c, np.nan) for c in ("L", "steps_per_interval", "tau_min", "n_accepted",
                                                      "n_rejected", "nfev", "n_points")})
        layers = range(int(r["depth"])) if per_layer else [int(r["depth"]) - 1]
        for layer in layers:
            out.append(dict(base, layer=layer + 1, length=_layer_value(r, "lengths", layer),
                            length_full=_layer_value(r, "lengths_full", layer),
                            var_pc1=_layer_value(r, "var_pc1_layers", layer),
                            var_pc2=_layer_value(r, "var_pc2_layers", layer)))
    df = pd.DataFrame(out)
    order = [c for c in cols + ["layer", "sample"] if c in df.columns]
    df = df.sort_values(order, kind="stable").reset_index(drop=True)
    return df[[c for c in cols + MEASURES if c in df.columns]]


def _describe(v: np.ndarray, col: str) -> dict:
    """mean, std, median with its 95 % interval, quartiles, min, max of the finite values ``v``."""
    v = v[np.isfinite(v)]
    if not len(v):
        return {}
    q1, q3 = np.percentile(v, [25, 75])
    ci = median_ci(v)
    return {f"{col}_mean": v.mean(), f"{col}_std": v.std(ddof=1) if len(v) > 1 else np.nan,
            f"{col}_median": ci.median, f"{col}_median_lo": ci.low, f"{col}_median_hi": ci.high,
            f"{col}_q1": q1, f"{col}_q3": q3, f"{col}_min": v.min(), f"{col}_max": v.max()}


def summary_table(samples: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per configuration ``by``: n (networks), failures, and :func:`_describe` of the PCA length, the
    full-space length and L (``<col>_median_lo/_hi``: the 95 % order-statistic interval of the
    median; NaN under 6 networks), the mean variance PC1 + PC2 explain."""
    out = []
    for key, g in samples.groupby(list(by), sort=True, dropna=False):
        ok = g[g["status"] == "ok"]
        rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        rec["n"] = len(g)
        rec["n_failed"] = int((g["status"] != "ok").sum())
        rec["failures"] = "; ".join(f"{k}: {v}" for k, v in g.loc[g["status"] != "ok", "status"]
                                    .value_counts().sort_index().items()) or ""
        for col in _STATS:
            if col in ok.columns:
                rec.update(_describe(ok[col].astype(float).to_numpy(), col))
        v12 = ok["var_pc1"].astype(float) + ok["var_pc2"].astype(float)
        rec["var_pc12_mean"] = float(v12.mean()) if len(ok) else np.nan
        out.append(rec)
    return pd.DataFrame(out)


def paired_table(samples: pd.DataFrame, by: Sequence[str], y: str = "length") -> pd.DataFrame:
    """For each configuration ``by`` (without ``model``) and each pair of :data:`PAIRS` present: the
    median over networks of ``y[a] / y[b]`` on the same network (sample, and layer if any) with its
    95 % interval and the Wilcoxon signed-rank p of "no difference" (failed solves left out)."""
    by = [c for c in by if c != "model"]
    keys = ["sample"] + (["layer"] if "layer" in samples.columns and "layer" not in by else [])
    ok = samples[samples["status"] == "ok"]
    out = []
    for key, g in (ok.groupby(by, sort=True, dropna=False) if by else [((), ok)]):
        wide = g.pivot_table(index=keys, columns="model", values=y, aggfunc="first")
        for a, b in PAIRS:
            if a not in wide.columns or b not in wide.columns:
                continue
            pr = paired_ratio(wide[a].to_numpy(), wide[b].to_numpy())
            rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
            rec.update(measure=y, ratio=f"{a}/{b}", n_pairs=pr.n, ratio_median=pr.ratio.median,
                       ratio_lo=pr.ratio.low, ratio_hi=pr.ratio.high, p_wilcoxon=pr.p_wilcoxon)
            out.append(rec)
    return pd.DataFrame(out)


def _factor_record(ratio: np.ndarray) -> dict:
    ci = median_ci(ratio)
    return {"n": ci.n, "factor_median": ci.median, "factor_lo": ci.low, "factor_hi": ci.high}


def growth_table(samples: pd.DataFrame, by: Sequence[str] = ("model",),
                 measures: Sequence[str] = ("length", "length_full")) -> pd.DataFrame:
    """Per-layer growth of a per-layer table (``layer`` column): per group ``by`` and measure, the
    per-network factor per layer over all layers, ``(l_D / l_1)^{1/(D−1)}`` (``from_layer`` 1,
    ``to_layer`` D), and each successive ratio ``l_d / l_{d−1}``; medians over networks with their
    95 % intervals. Exponential growth: factors > 1 and alike; none: factors ≈ 1."""
    ok = samples[samples["status"] == "ok"]
    out = []
    for key, g in ok.groupby(list(by), sort=True, dropna=False):
        base = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        for y in measures:
            wide = g.pivot_table(index="sample", columns="layer", values=y, aggfunc="first")
            layers = sorted(wide.columns)
            if len(layers) < 2:
                continue
            first, last = layers[0], layers[-1]
            with np.errstate(divide="ignore", invalid="ignore"):
                steps = [(first, last, (wide[last] / wide[first]) ** (1.0 / (last - first)))]
                steps += [(a, b, wide[b] / wide[a]) for a, b in zip(layers, layers[1:])]
            for a, b, r in steps:
                out.append(dict(base, measure=y, from_layer=a, to_layer=b,
                                **_factor_record(r.to_numpy(float))))
    return pd.DataFrame(out)


def trend_table(samples: pd.DataFrame, x: str, by: Sequence[str] = ("model",),
                measures: Sequence[str] = ("length", "length_full")) -> pd.DataFrame:
    """Growth exponent along ``x`` per group ``by``: OLS of log ``y`` on log ``x`` over every
    successful network, slope with its two-sided 95 % t-interval (networks at different ``x`` are
    independent draws)."""
    ok = samples[samples["status"] == "ok"]
    out = []
    for key, g in ok.groupby(list(by), sort=True, dropna=False):
        for y in measures:
            xv, yv = g[x].to_numpy(float), g[y].to_numpy(float)
            keep = np.isfinite(xv) & np.isfinite(yv) & (xv > 0) & (yv > 0)
            rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
            rec.update(measure=y, axis=x, n=int(keep.sum()),
                       x_values=" ".join(f"{v:g}" for v in np.unique(xv[keep])))
            if keep.sum() > 2 and np.ptp(xv[keep]) > 0:
                r = stats.linregress(np.log(xv[keep]), np.log(yv[keep]))
                half = stats.t.ppf(0.975, keep.sum() - 2) * r.stderr
                rec.update(exponent=r.slope, exponent_lo=r.slope - half, exponent_hi=r.slope + half)
            out.append(rec)
    return pd.DataFrame(out)
