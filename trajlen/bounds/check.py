"""Pipeline stage 8 (bounds) — checking a bound against a results table: ratios measured/bound per
sample, a per-configuration summary, and growth exponents in k, σ_w and depth (SPEC §4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..spec import SpecError
from .columns import theorem_columns
from .formula import resolve_bound
from .plugin import resolve_bound_function
from .theorems import AUTO_BOUNDS, BOUNDS

__all__ = ["CONFIG_COLUMNS", "AXES", "recurrent_weights_zero", "bound_values", "undefined_reason",
           "fit_growth", "BoundReport", "check_bound", "format_report"]

CONFIG_COLUMNS = ("semantics", "model", "activation", "width", "depth", "sigma_w2", "sigma_b2",
                  "weight_init", "recurrence", "ltc_decay", "ltc_A", "hardtanh", "input_kind",
                  "n_samples", "method", "controller", "rtol", "atol", "output", "refine", "backend")
#: sweep axis → (column of theorem_columns used as x, fit kind)
AXES: dict[str, tuple[str, str]] = {"k": ("k", "loglog"), "sigma_w": ("sigma_w", "loglog"),
                                    "depth": ("d", "loglinear")}
_AXIS_CONFIG = {"k": "width", "sigma_w": "sigma_w2", "depth": "depth"}


def recurrent_weights_zero(df: pd.DataFrame) -> np.ndarray:
    """Per row: were the network's recurrent weights zero (or absent)? True for ``recurrence="none"``,
    for node/CT-RNN under ``"ltc_only"`` (they have no recurrent term) and for static ``mlp``."""
    rec = df["recurrence"].astype(str).to_numpy() if "recurrence" in df.columns else np.array(
        ["shared"] * len(df))
    model = df["model"].astype(str).to_numpy()
    return (rec == "none") | ((rec == "ltc_only") & np.isin(model, ["node", "ctrnn"])) | (model == "mlp")


def _varying(df: pd.DataFrame, cols: Sequence[str] = CONFIG_COLUMNS) -> list[str]:
    keep = [c for c in cols if c in df.columns and df[c].astype(str).nunique() > 1]
    return keep if "model" in keep else ["model"] + keep


def bound_values(df: pd.DataFrame, bound: str = "auto", variant: str = "paper",
                 sigma: str = "theorem", bound_function: str | None = None
                 ) -> tuple[np.ndarray, list[str]]:
    """The bound per row and the bound name used per row.

    Parameters
    ----------
    df : results table.
    bound : ``"auto"`` (per model, see :data:`AUTO_BOUNDS`; relu static networks get
        :func:`raghu_relu`), a registered name or a formula (:func:`resolve_bound`; never runs code).
    variant, sigma : see :func:`check_bound`.
    bound_function : ``"pkg.mod:fn"`` or ``"path/file.py:fn"`` — **runs code**, see
        :func:`~trajlen.bounds.plugin.resolve_bound_function`; only with ``bound="auto"`` (unset).
    """
    if variant not in ("paper", "code"):
        raise SpecError(f"variant must be one of paper, code, got {variant!r}")
    cols = theorem_columns(df, sigma)
    if bound_function is not None:
        if bound != "auto":
            raise SpecError(f"give a bound or a bound function, not both (bound={bound!r}, "
                            f"bound_function={bound_function!r})")
        b = resolve_bound_function(bound_function, cols)
        return b(cols), [b.name] * len(df)
    if bound != "auto":
        b = resolve_bound(bound, cols)
        return b(cols), [b.name] * len(df)
    out = np.full(len(df), np.nan)
    used = [""] * len(df)
    models = df["model"].astype(str).to_numpy()
    acts = df["activation"].astype(str).to_numpy() if "activation" in df.columns else None
    for m in np.unique(models):
        if (variant, m) not in AUTO_BOUNDS:
            raise SpecError(f"no bound registered for model {m!r}; choose one with --bound "
                            f"({', '.join(BOUNDS)})")
        names = np.full(len(df), AUTO_BOUNDS[(variant, m)], dtype=object)
        if m == "mlp" and acts is not None:
            names[acts == "relu"] = "raghu_relu"
        for name in np.unique(names[models == m]):
            sel = (models == m) & (names == name)
            sub = {c: v[sel] for c, v in cols.items()}
            out[sel] = BOUNDS[name](sub)
            for i in np.flatnonzero(sel):
                used[i] = name
    return out, used


def undefined_reason(b: np.ndarray) -> np.ndarray:
    """Per row, why a bound value gives no verdict: ``"nan"``, ``"inf"`` (+∞), ``"zero"``,
    ``"negative"`` (−∞ included), or ``""`` where it is a finite positive number (defined).

    A lower bound on a length is only a claim when it is a finite positive number: the ratio
    measured/bound of a negative bound is negative (a "violation" that says nothing), of +∞ is 0, of
    0 is ∞, and of NaN compares false with everything (a silent "held")."""
    b = np.asarray(b, dtype=np.float64)
    why = np.full(b.shape, "", dtype=object)
    why[b == 0] = "zero"
    why[b < 0] = "negative"
    why[b == np.inf] = "inf"
    why[np.isnan(b)] = "nan"
    return why


def _ols(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """OLS slope with a two-sided 95% t-interval (NaN CI with fewer than 3 points)."""
    from scipy import stats

    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    if n < 2 or np.ptp(x) == 0:
        return dict(slope=np.nan, lo=np.nan, hi=np.nan, n=n)
    if np.ptp(y) == 0:
        return dict(slope=0.0, lo=0.0, hi=0.0, n=n)
    r = stats.linregress(x, y)
    half = stats.t.ppf(0.975, n - 2) * r.stderr if n > 2 else np.nan
    return dict(slope=float(r.slope), lo=float(r.slope - half), hi=float(r.slope + half), n=n)


def fit_growth(table: pd.DataFrame, axis: str, by: Sequence[str]) -> pd.DataFrame:
    """Growth exponent of measured length and of the bound along one sweep axis, per group ``by``.

    ``table`` has columns ``x`` (the axis value per row: k, σ_w or depth), ``length``, ``bound`` and the
    group columns. ``k`` and ``σ_w`` are fitted log–log (``length ∝ x^slope``), depth log-linear
    (``length ∝ e^{slope·d}``, i.e. a factor ``e^slope`` per layer). Measured and bound are fitted the
    same way, per sample, so the bound's slope is "the exponent the bound predicts" over the same points.
    """
    _, kind = AXES[axis]
    rows = []
    groups = table.groupby(list(by), sort=True, dropna=False) if by else [((), table)]
    for key, g in groups:
        if g["x"].nunique() < 2:
            continue
        x = np.log(g["x"].to_numpy(float)) if kind == "loglog" else g["x"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ym = np.log(g["length"].to_numpy(float))
            yb = np.log(g["bound"].to_numpy(float))
        m, b = _ols(x, ym), _ols(x, yb)
        rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        rec.update(axis=axis, fit=kind, n=m["n"], x_values=" ".join(f"{v:g}" for v in
                                                                    sorted(g["x"].unique())),
                   slope=m["slope"], slope_lo=m["lo"], slope_hi=m["hi"],
                   bound_slope=b["slope"], bound_slope_lo=b["lo"], bound_slope_hi=b["hi"])
        rec["bound_in_ci"] = bool(m["lo"] <= b["slope"] <= m["hi"]) if np.isfinite(m["lo"]) else None
        rows.append(rec)
    return pd.DataFrame(rows)


@dataclass
class BoundReport:
    """What :func:`check_bound` found.

    ``rows``: one per ok sample, with ``bound``, ``bound_name``, ``bound_undefined`` (the reason, ``""``
    where defined) and ``ratio`` (NaN where the bound is undefined); ``per_config``: one per
    configuration (``n``, ``undefined``, ``violations``, ratio and length statistics); ``fits``: growth
    exponents; ``header``: the lines printed above the tables; ``config_columns``: the columns that
    tell configurations apart."""

    rows: pd.DataFrame
    per_config: pd.DataFrame
    fits: pd.DataFrame
    header: list[str]
    config_columns: list[str]


def _select_rows(df: pd.DataFrame, zero_recurrent: bool, header: list[str]
                 ) -> tuple[pd.DataFrame, np.ndarray]:
    if df.empty or "length" not in df.columns or "model" not in df.columns:
        raise SpecError("results table is empty or lacks the length/model columns")
    if not pd.api.types.is_numeric_dtype(df["length"]) or pd.api.types.is_bool_dtype(df["length"]):
        raise SpecError(f"results column 'length' must be numeric, got {df['length'].dtype}")
    n_all = len(df)
    df = df[df["status"] == "ok"] if "status" in df.columns else df
    if len(df) < n_all:
        header.append(f"{n_all - len(df)} of {n_all} rows are failed solves and are left out")
    zero = recurrent_weights_zero(df)
    if zero_recurrent:
        df = df[zero]
        if df.empty:
            raise SpecError("--zero-recurrent: no rows with zero recurrent weights; run the sweep with "
                            "--recurrence none")
        zero = zero[zero]
    if df.empty:
        raise SpecError("no successful rows to check")
    return df.reset_index(drop=True), zero


def _notes(out: pd.DataFrame, names: list[str], zero: np.ndarray, sigma: str,
           zero_recurrent: bool) -> list[str]:
    lines = [f"recurrent weights: zero in {int(zero.sum())}/{len(zero)} rows"
             + (" (kept only those: --zero-recurrent)" if zero_recurrent else "")]
    if any(n.startswith("code_") for n in names) and not zero.all():
        lines.append("note: the authors' code says its bound holds only with recurrent weights set to "
                     "zero; some rows had recurrent weights (use --zero-recurrent, or sweep with "
                     "--recurrence none)")
    if "weight_init" in out.columns and (out["weight_init"] == "std_label").any():
        lines.append("note: rows with weight_init=std_label (reference semantics) drew weights with "
                     "std = sigma_w2 and no 1/k, not the N(0, σ_w²/k) the theorems assume; σ_w is "
                     + ("taken as sqrt(sigma_w2) (--sigma label)" if sigma == "label" else
                        "taken as the effective sigma_w2·√k (--sigma theorem), σ_b = sigma_b2"))
    why = out["bound_undefined"].to_numpy()
    if (why != "").any():
        counts = pd.Series(why[why != ""]).value_counts()
        detail = ", ".join(f"{c} {_WHY[r]}" for r, c in counts.items())
        hint = (" (NaN: e.g. a negative base, σ_w < σ_b in Eq. 8, sigma_w2 < sigma_b2 in code_ltc)"
                if "nan" in counts.index else "")
        lines.append(f"note: the bound is undefined for {int((why != '').sum())} of {len(why)} rows "
                     f"({detail}){hint}: no verdict — they are counted as 'undefined' and left out "
                     "of violations, ratios and growth fits")
    return lines


_WHY = {"nan": "NaN", "inf": "+inf", "zero": "zero", "negative": "negative"}


def _per_config(out: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    per = []
    for key, g in out.groupby(by, sort=True, dropna=False):
        rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        defined = (g["bound_undefined"] == "").to_numpy(dtype=bool)
        r = g["ratio"].to_numpy(float)[defined]
        r_ok = r[~np.isnan(r)]
        rec.update(n=len(g), length_mean=g["length"].mean(), length_median=g["length"].median(),
                   bound_mean=g["bound"][defined].mean() if defined.any() else np.nan,
                   ratio_mean=r_ok.mean() if len(r_ok) else np.nan,
                   ratio_min=r_ok.min() if len(r_ok) else np.nan,
                   undefined=int((~defined).sum()), violations=int(np.sum(r_ok < 1)),
                   bound_name=",".join(sorted(set(g["bound_name"]))),
                   recurrent_zero=bool(g["recurrent_zero"].all()))
        per.append(rec)
    return pd.DataFrame(per)


def _fits(out: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    fits = []
    for axis, (xcol, _) in AXES.items():
        cfg = _AXIS_CONFIG[axis]
        others = [c for c in by if c != cfg]
        if cfg not in out.columns or out[cfg].nunique() < 2:
            continue
        t = out[others + ["length", "bound"]].copy()
        t["x"] = out[xcol]
        fits.append(fit_growth(t, axis, others))
    fits = [f for f in fits if not f.empty]
    if not fits:
        return pd.DataFrame()
    fits_df = pd.concat(fits, ignore_index=True)
    group_cols = [c for c in by if c in fits_df.columns]
    fits_df.insert(0, "group", [", ".join(f"{c}={_fmt(r[c])}" for c in group_cols if pd.notna(r[c]))
                                for _, r in fits_df.iterrows()])
    first = ["axis", "fit", "group"] + group_cols
    return fits_df[first + [c for c in fits_df.columns if c not in first]]


def check_bound(df: pd.DataFrame, bound: str = "auto", variant: str = "paper",
                sigma: str = "theorem", zero_recurrent: bool = False,
                bound_function: str | None = None) -> BoundReport:
    """Bound, ratio measured/bound per sample; per-configuration summary; growth fits (SPEC §4).

    Parameters
    ----------
    df : results table (:func:`trajlen.results.read_results`).
    bound : ``"auto"``, a registry name (:data:`BOUNDS`) or a formula over column names
        (:func:`compile_formula`). A bound string never imports or runs code.
    variant : ``"paper"`` or ``"code"`` — which family ``"auto"`` picks.
    sigma : ``"theorem"`` or ``"label"`` — see :func:`theorem_columns`.
    zero_recurrent : keep only rows whose recurrent weights were zero (the authors' code requires it
        for its variant).
    bound_function : ``"pkg.mod:fn"`` or ``"path/to/file.py:fn"`` instead of ``bound`` — **imports and
        runs that code** (:func:`~trajlen.bounds.plugin.resolve_bound_function`).

    Returns
    -------
    BoundReport

    Notes
    -----
    **Undefined bounds.** A row whose bound is NaN, +∞, −∞, zero or negative gets no verdict: its
    ``bound_undefined`` says why (:func:`undefined_reason`), its ratio is NaN, and it is counted in the
    configuration's ``undefined`` column — never in ``violations`` (ratio < 1), ``ratio_mean``,
    ``ratio_min``, ``bound_mean`` or the growth fits; the header says how many rows and why.
    """
    header: list[str] = []
    df, zero = _select_rows(df, zero_recurrent, header)
    b, used = bound_values(df, bound, variant, sigma, bound_function)
    why = undefined_reason(b)
    out = df.copy()
    out["bound"] = b
    out["bound_name"] = used
    out["bound_undefined"] = why
    out["recurrent_zero"] = zero
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = np.where(why == "", out["length"].to_numpy(float) / np.where(why == "", b, 1.0),
                                np.nan)
    cols = theorem_columns(out, sigma)
    out["sigma_w"] = cols["sigma_w"]
    out["k"], out["d"] = cols["k"], cols["d"]

    names = sorted(set(used))
    label = bound_function if bound_function is not None else bound
    header.insert(0, f"bound: {label}" + (f" (variant {variant})" if label == "auto" else "")
                  + "; used: " + ", ".join(f"{n} [{BOUNDS[n].equation}]" if n in BOUNDS else n
                                           for n in names))
    header += _notes(out, names, zero, sigma, zero_recurrent)
    by = _varying(out)
    return BoundReport(out, _per_config(out, by), _fits(out[why == ""], by), header, by)


def _fmt(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return f"{v:g}" if isinstance(v, float) else str(v)


def format_report(rep: BoundReport) -> str:
    """The report as text: the header, the per-configuration table and the growth fits."""
    lines = list(rep.header)
    pc = rep.per_config.copy()
    show = rep.config_columns + ["n", "length_mean", "length_median", "bound_mean", "ratio_mean",
                                 "ratio_min", "undefined", "violations"]
    lines += ["", "per configuration (ratio = measured length / bound; violation: ratio < 1; "
              "undefined: bound NaN, ±inf, 0 or negative — no verdict):",
              pc[show].to_string(index=False, float_format=lambda v: f"{v:.4g}")]
    if not rep.fits.empty:
        f = rep.fits.copy()
        f["measured exponent [95% CI]"] = [f"{s:.3g} [{lo:.3g}, {hi:.3g}]" for s, lo, hi in
                                           zip(f["slope"], f["slope_lo"], f["slope_hi"])]
        f["bound exponent [95% CI]"] = [f"{s:.3g} [{lo:.3g}, {hi:.3g}]" for s, lo, hi in
                                        zip(f["bound_slope"], f["bound_slope_lo"], f["bound_slope_hi"])]
        keep = ["axis", "fit", "group", "n", "x_values", "measured exponent [95% CI]",
                "bound exponent [95% CI]", "bound_in_ci"]
        lines += ["", "growth fits (k, σ_w: log-log, length ∝ x^exponent; depth: log-linear, "
                  "length ∝ e^{exponent·d}):", f[keep].to_string(index=False)]
    else:
        lines += ["", "growth fits: none (no sweep axis — width, sigma_w2, depth — varies among the "
                  "rows with a defined bound)"]
    return "\n".join(lines)
