"""Pipeline stage 5½ — round-off sensitivity as a measure (SPEC §6, ``--perturb N``).

At rtol 1e-2 an adaptive solver's accept/reject decisions can hang on the last bits of the state: two
solves of one network that differ by round-off agree to 1e-16 at first, the difference grows
geometrically, and once one decision flips the two step sequences — and the lengths measured on
their points — part. A single network's length is then not a reproducible number; the distribution
over networks still is.

This module measures it. Each network is solved ``N`` more times with every parameter array (W, b, E,
τ, W_r, b_r, E_r, A) multiplied elementwise by ``1 + 1e-15·ε``, ε ~ N(0, 1) — a change of a few
units in the last place, the size round-off reaches in one operation. The draws are seeded by the
task (root seed, sample, perturbation index), so they are reproducible and, like the networks
(common random numbers), the same for every model and configuration of a sample. The row records the
relative spread ``(max − min)/median`` of the length and of L over the ``N + 1`` solves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import fields, replace

import numpy as np

from .params import Params

__all__ = ["SCALE", "perturbed_params", "relative_spread", "spread_columns", "SPREAD_COLUMNS"]

#: relative size of the perturbation (the ε's standard deviation)
SCALE = 1e-15
#: a constant in the seed that keeps the perturbation draws apart from every network's own draws
_TAG = 0x70657274
SPREAD_COLUMNS = ("length_spread", "L_spread")


def perturbed_params(params: Params, seed: int, sample: int, n: int) -> list[Params]:
    """``n`` copies of ``params``, copy ``i`` with every array multiplied by ``1 + SCALE·ε``,
    ε ~ N(0, 1) drawn from ``SeedSequence([seed, TAG, sample, i])`` (arrays in field order).

    ``params`` is any dataclass of arrays (:class:`~trajlen.params.Params`, the ncps LTC's
    :class:`~trajlen.models.ltc_ncps.LtcNcpsParams`) or the CfC's
    :class:`~trajlen.models.cfc.CfcParams` (its ``tensors`` in sorted name order; mode and
    activation kept); the copies are of the same type."""
    out = []
    for i in range(n):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), _TAG, int(sample), i]))

        def jitter(a: np.ndarray, rng: np.random.Generator = rng) -> np.ndarray:
            return a * (1.0 + SCALE * rng.standard_normal(a.shape))

        if isinstance(getattr(params, "tensors", None), dict):   # the CfC: a dict of named tensors
            tensors = {name: jitter(params.tensors[name]) for name in sorted(params.tensors)}
            out.append(replace(params, tensors=tensors))
            continue
        arrays = {f.name: getattr(params, f.name) for f in fields(params)}
        out.append(type(params)(**{name: jitter(a) for name, a in arrays.items()}))
    return out


def relative_spread(values: Sequence[float]) -> float:
    """``(max − min) / median`` of the finite values; NaN with fewer than two (0 when all are equal,
    inf when they differ around a median of 0)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return math.nan
    width = float(v.max() - v.min())
    med = float(np.median(v))
    if width == 0.0:
        return 0.0
    return width / abs(med) if med != 0.0 else math.inf


def spread_columns(row: dict, others: Sequence[dict]) -> tuple[dict[str, float], str]:
    """The row columns of a task's perturbation, ``{length_spread, L_spread}``, over the unperturbed
    ``row`` and the ``others`` (rows, or dicts with ``status``, ``length`` and ``L``, of the perturbed
    solves), computed over the solves that succeeded; and a note for the row's message (empty
    unless some perturbed solves failed)."""
    solves = [row, *others]
    ok = [r for r in solves if r["status"] == "ok"]
    out: dict = {name: math.nan for name in SPREAD_COLUMNS}
    if len(ok) >= 2:
        out["length_spread"] = relative_spread([r["length"] for r in ok])
        out["L_spread"] = relative_spread([r["L"] for r in ok])
    failed = [r["status"] for r in others if r["status"] != "ok"]
    note = ""
    if failed:
        kinds = ", ".join(sorted(set(failed)))
        note = f"; perturb: {len(failed)} of {len(others)} perturbed solves failed ({kinds})"
    return out, note
