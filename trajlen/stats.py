"""Pipeline stage 7 (results) — statistics that fit these data: heavy tails and common random numbers.

Lengths and computational depths are heavy-tailed (one network with a tiny time constant can carry a
mean: E[1/τ_min] is infinite for τ = |N(0, σ²)|), so summaries quote **medians with a 95 % interval**
— the exact order-statistic (binomial) interval of ``scipy.stats.quantile_test``, distribution-free
— and flag means that one draw can carry. The models of one sample are the same random network
(common random numbers, trajlen.params), so model comparisons are **paired**: the median of the
per-network log ratio with its interval, and a Wilcoxon signed-rank test (``scipy.stats.wilcoxon``).
Nothing here is hand-written statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MedianCI", "median_ci", "PairedRatio", "paired_ratio", "mean_is_carried", "LEVEL"]

LEVEL = 0.95


@dataclass(frozen=True)
class MedianCI:
    """A median with its order-statistic confidence interval (NaN bounds when n is too small for the
    level: n < 6 at 95 %)."""

    median: float
    low: float
    high: float
    n: int

    def format(self, fmt: str = ".4g") -> str:
        if not math.isfinite(self.median):
            return "—"
        if not math.isfinite(self.low):
            return f"{self.median:{fmt}} [n = {self.n}: no 95% interval]"
        return f"{self.median:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}]"


def median_ci(x, level: float = LEVEL) -> MedianCI:
    """Median of the finite values of ``x`` with the distribution-free interval of
    ``scipy.stats.quantile_test`` (exact binomial coverage ≥ ``level``)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return MedianCI(math.nan, math.nan, math.nan, 0)
    med = float(np.median(x))
    # scipy.stats is imported here, not with the module: it costs ~1 s, and a sweep's driver
    # imports this module whether or not it prints a summary
    from scipy import stats

    ci = stats.quantile_test(x, q=med, p=0.5).confidence_interval(level)
    return MedianCI(med, float(ci.low), float(ci.high), len(x))


@dataclass(frozen=True)
class PairedRatio:
    """``a / b`` over paired networks: the median ratio (exp of the median log ratio) with its
    interval, the Wilcoxon signed-rank p-value of "the log ratio is centred at 0", and n pairs."""

    ratio: MedianCI
    p_wilcoxon: float
    n: int

    def format(self) -> str:
        p = "" if not math.isfinite(self.p_wilcoxon) else f", Wilcoxon p = {self.p_wilcoxon:.2g}"
        return f"median ratio {self.ratio.format('.3g')}{p} (n = {self.n} pairs)"


def paired_ratio(a, b, level: float = LEVEL) -> PairedRatio:
    """Paired comparison of positive quantities ``a[i]``, ``b[i]`` (the same random network under two
    models): pairs where either is not a finite positive number are left out."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    r = np.log(a[ok] / b[ok])
    m = median_ci(r, level)
    ratio = MedianCI(math.exp(m.median) if m.n else math.nan,
                     math.exp(m.low) if math.isfinite(m.low) else math.nan,
                     math.exp(m.high) if math.isfinite(m.high) else math.nan, m.n)
    p = math.nan
    if m.n >= 2 and np.any(r != 0):
        from scipy import stats

        p = float(stats.wilcoxon(r).pvalue)
    return PairedRatio(ratio, p, int(m.n))


def mean_is_carried(values, tau_min, threshold: float = 0.5) -> bool:
    """Is the mean of ``values`` (e.g. L) carried by the smallest time constants — ``values ∝ 1/τ_min``,
    so that the mean is that of a quantity with infinite expectation? True when ``values·τ_min``
    varies less than half as much as ``values`` (on a log scale) over at least 5 networks."""
    v, t = np.asarray(values, dtype=np.float64), np.asarray(tau_min, dtype=np.float64)
    ok = np.isfinite(v) & np.isfinite(t) & (v > 0) & (t > 0)
    if ok.sum() < 5:
        return False
    spread = np.std(np.log(v[ok]))
    return bool(spread > 0 and np.std(np.log(v[ok] * t[ok])) < threshold * spread)
