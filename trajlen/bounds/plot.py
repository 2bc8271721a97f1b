"""Pipeline stage 9 (figures) — measured length against a bound along each sweep axis."""

from __future__ import annotations

from pathlib import Path

from .check import _AXIS_CONFIG, AXES, BoundReport, _fmt

__all__ = ["plot_report"]

_SHORT = {"width": "k", "sigma_w2": "σ_w²", "sigma_b2": "σ_b²", "depth": "d"}


def plot_report(rep: BoundReport, out_dir: str | Path, fmt: str = "png") -> list[Path]:
    """Measured vs bound per sweep axis (log y): sample points, medians, bound medians.

    Parameters
    ----------
    rep : from :func:`~trajlen.bounds.check_bound`; rows with an undefined bound get no bound point.
    out_dir : created if absent; one file ``bounds_<axis>.<fmt>`` per sweep axis that varies.
    fmt : ``"png"`` or ``"pdf"``.

    Returns
    -------
    list of Path : the files written (empty when no sweep axis varies).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    rows = rep.rows.copy()
    if "bound_undefined" in rows.columns:  # no verdict, no curve: NaN is a gap in the dashed line
        rows["bound"] = rows["bound"].where(rows["bound_undefined"] == "")
    for axis, (xcol, kind) in AXES.items():
        cfg = _AXIS_CONFIG[axis]
        if cfg not in rows.columns or rows[cfg].nunique() < 2:
            continue
        others = [c for c in rep.config_columns if c != cfg]
        groups = rows.groupby(others, sort=True, dropna=False) if others else [((), rows)]
        groups = [(k if isinstance(k, tuple) else (k,), g) for k, g in groups if g[cfg].nunique() >= 2]
        fig, ax = plt.subplots(figsize=(7.5 + 2.0 * (len(groups) > 6), 4.4))
        cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
        for i, (key, g) in enumerate(groups):
            label = ", ".join(f"{_SHORT.get(c, c)}={_fmt(v)}" for c, v in zip(others, key))
            c = cmap(i % cmap.N)
            ax.scatter(g[xcol], g["length"], s=8, alpha=0.35, color=c)
            med = g.groupby(xcol)[["length", "bound"]].median()
            ax.plot(med.index, med["length"], "-o", color=c, ms=3, label=label)
            ax.plot(med.index, med["bound"], "--", color=c)
        ax.set_yscale("log")
        if kind == "loglog":
            ax.set_xscale("log")
        ax.set_xlabel({"k": "width k", "sigma_w": "σ_w", "depth": "depth d"}[axis])
        ax.set_ylabel("trajectory length")
        ax.set_title(f"measured vs bound along {axis}", fontsize=10)
        ax.legend(fontsize=6, ncol=1 + (len(groups) > 8), loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  title="solid: measured (median), dashed: bound", title_fontsize=6)
        fig.tight_layout()
        path = out_dir / f"bounds_{axis}.{fmt}"
        meta = {"Software": None} if fmt == "png" else {"Creator": None, "Producer": None,
                                                         "CreationDate": None}
        fig.savefig(path, dpi=130, metadata=meta)  # no version/date: reruns give the same bytes
        plt.close(fig)
        written.append(path)
    return written
