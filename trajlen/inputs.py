"""Pipeline stage 2 (vector field) — the circular input I(t) = (sin t, cos t), SPEC §1.

One definition for numpy and torch: :class:`CircleInput` is built in the namespace (and device) of
the vector field that owns it.
"""

from __future__ import annotations

import math

import numpy as np

from ._xp import floor, jitable, sin_cos, to_index, where
from .spec import InputSpec

__all__ = ["sample_times", "CircleInput", "circle_point", "input_at", "input_curve"]


def sample_times(spec: InputSpec) -> np.ndarray:
    """The input sample times ``linspace(0, 2π, n_samples)``, shape ``(n_samples,)``."""
    return np.linspace(0.0, spec.t_end, spec.n_samples)


@jitable
def circle_point(t, exact, table, inv_h, last):
    """I(t) as ``(I_1, I_2)`` for times ``t`` (a scalar, or an array of any shape): ``(sin t, cos t)``
    when ``exact``, else linear interpolation in t of the sample ``table`` (``(n + 1, 2)``, the last
    sample repeated once, so index n − 1 at t = 2π exactly reads a valid row with weight 0 on it);
    ``inv_h = (n − 1)/2π``, ``last = n − 1``. Times are clamped to ``[0, 2π]`` (the solvers never ask
    outside it). The one definition of the input for numpy, torch and the compiled kernel."""
    if exact:
        return sin_cos(t)
    s = t * inv_h
    s = where(s < 0.0, 0.0, where(s > last, last, s))
    i = floor(s)
    w = s - i
    j = to_index(i)
    v0 = table[j, 0]
    v1 = table[j, 1]
    return v0 + w * (table[j + 1, 0] - v0), v1 + w * (table[j + 1, 1] - v1)


class CircleInput:
    """I(t) for times ``t`` of shape ``(B,)``; returns ``(B, 2)``.

    ``kind="exact"``: ``(sin t, cos t)``. ``kind="samples"``: linear interpolation in t of the
    ``n_samples`` points ``(sin, cos)(linspace(0, 2π, n_samples))`` — MATLAB ``interp1`` in the
    authors' code. Times are clamped to ``[0, 2π]`` (the solvers never ask outside it).

    Parameters
    ----------
    spec : InputSpec
    xp : numpy or torch; device, dtype : where the sample table lives (torch).
    """

    def __init__(self, spec: InputSpec, xp=np, device=None, dtype=None):
        self.spec, self.xp = spec, xp
        ts = sample_times(spec)
        table = np.stack([np.sin(ts), np.cos(ts)], axis=-1)
        # Appending the last sample once more lets index n−1 (t = 2π exactly) read a valid row with
        # weight 0 on it, so no clamp of the index is needed.
        table = np.concatenate([table, table[-1:]], axis=0)
        if xp is np:
            self.table = table if dtype is None else table.astype(dtype)
        else:
            self.table = xp.as_tensor(table, device=device, dtype=dtype)
        self.inv_h = (spec.n_samples - 1) / spec.t_end
        self.last = float(spec.n_samples - 1)

    def __call__(self, t):
        u0, u1 = circle_point(t, self.spec.kind == "exact", self.table, self.inv_h, self.last)
        return self.xp.stack([u0, u1], axis=-1)


def input_at(t, spec: InputSpec):
    """I(t) for a numpy array ``t`` of shape ``(B,)`` (convenience; see :class:`CircleInput`)."""
    return CircleInput(spec)(np.asarray(t, dtype=np.float64))


def input_curve(spec: InputSpec, n_points: int | None = None) -> np.ndarray:
    """Points of the input curve for measuring l(I), shape ``(T, 2)``.

    ``samples``: the samples themselves (l = 6.282131 for 100 points). ``exact``: ``n_points``
    uniform points (default 10 001, whose chord length is within 1e-7 relative of 2π).
    """
    if spec.kind == "samples":
        t = sample_times(spec)
    else:
        t = np.linspace(0.0, 2.0 * math.pi, n_points or 10_001)
    return np.stack([np.sin(t), np.cos(t)], axis=-1)
