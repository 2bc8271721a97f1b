"""Pipeline stage 2 (vector field) — the circular input I(t) = gain·(sin ωt, cos ωt), SPEC §1 and §6.

One definition for numpy, torch and the compiled kernel: :func:`circle_point`. :class:`CircleInput`
holds its arguments (:attr:`CircleInput.args`) in the namespace (and device) of the vector field
that owns it; the compiled kernel is handed the same tuple (:mod:`trajlen.solve.compiled.pack`).
"""

from __future__ import annotations

import math

import numpy as np

from ._xp import floor, jitable, sin_cos, to_index, where
from .spec import InputSpec

__all__ = ["sample_times", "CircleInput", "circle_point", "input_at", "input_curve"]


def sample_times(spec: InputSpec) -> np.ndarray:
    """The input sample times, shape ``(M + 1,)``: ``linspace(0, 2π, n_samples)`` over one period,
    continued at the same step ``δt = 2π/(n_samples − 1)`` until they cover ``[0, spec.t_end]``
    (``j·δt``, j = 0 … M; the last is ``t_end`` itself where it falls on the step)."""
    dt = spec.dt
    m = max(spec.n_samples - 1, math.ceil(spec.t_end / dt - 1e-9))
    t = np.arange(m + 1) * dt          # what linspace(0, 2π, n_samples) computes for j < n_samples
    if abs(t[-1] - spec.t_end) <= 1e-9 * dt:
        t[-1] = spec.t_end
    return t


@jitable
def circle_point(t, exact, table, inv_h, last, omega, gain):
    """I(t) as ``(I_1, I_2)`` for times ``t`` (a scalar, or an array of any shape).

    ``exact``: ``gain·(sin ωt, cos ωt)``. Otherwise ``gain`` × the linear interpolation in t of the
    sample ``table`` (``(M + 2, 2)``: the curve ``(sin ωt_j, cos ωt_j)`` at the times of
    :func:`sample_times`, the last sample repeated once, so that index M at the last time reads a
    valid row with weight 0 on it); ``inv_h = 1/δt``, ``last = M``. Times are clamped to the
    table's span (the solvers never ask outside ``[0, t_end]``). The one definition of the input for
    numpy, torch and the compiled kernel; ``gain = 0`` is the input switched off."""
    if exact:
        s, c = sin_cos(omega * t)
        return gain * s, gain * c
    s = t * inv_h
    s = where(s < 0.0, 0.0, where(s > last, last, s))
    i = floor(s)
    w = s - i
    j = to_index(i)
    v0 = table[j, 0]
    v1 = table[j, 1]
    return gain * (v0 + w * (table[j + 1, 0] - v0)), gain * (v1 + w * (table[j + 1, 1] - v1))


def _table(spec: InputSpec) -> np.ndarray:
    """The sample table of :func:`circle_point`, ``(M + 2, 2)`` float64 (gain not applied)."""
    ts = sample_times(spec)
    s, c = circle_point(ts, True, None, 0.0, 0.0, spec.omega, 1.0)
    table = np.stack([s, c], axis=-1)
    # Appending the last sample once more lets index M (the last time exactly) read a valid row with
    # weight 0 on it, so no clamp of the index is needed.
    return np.concatenate([table, table[-1:]], axis=0)


class CircleInput:
    """I(t) for times ``t`` of shape ``(B,)``; returns ``(B, 2)``.

    ``kind="exact"``: ``gain·(sin ωt, cos ωt)``. ``kind="samples"``: linear interpolation in t of
    that curve's samples at :func:`sample_times` — MATLAB ``interp1`` in the authors' code.
    ``kind="off"``: zero (the exact branch with gain 0).

    Parameters
    ----------
    spec : InputSpec
    xp : numpy or torch; device, dtype : where the sample table lives (torch).

    Attributes
    ----------
    args : tuple
        ``(exact, table, inv_h, last, omega, gain)``: :func:`circle_point`'s arguments after ``t``.
    """

    def __init__(self, spec: InputSpec, xp=np, device=None, dtype=None):
        self.spec, self.xp = spec, xp
        # the exact curve needs no table (a placeholder keeps the compiled kernel's argument types)
        table = _table(spec) if spec.kind == "samples" else np.zeros((2, 2))
        if xp is np:
            self.table = table if dtype is None else table.astype(dtype)
        else:
            self.table = xp.as_tensor(table, device=device, dtype=dtype)
        self.inv_h = (spec.n_samples - 1) / spec.period
        self.last = float(len(table) - 2)
        off = spec.kind == "off"
        self._scalar_ok = xp is np and self.table.dtype == np.float64
        self.args = (spec.kind != "samples", self.table, self.inv_h, self.last, float(spec.omega),
                     0.0 if off else float(spec.gain))

    def __call__(self, t):
        if self._scalar_ok and type(t) is np.ndarray and t.shape == (1,) and t.dtype == np.float64:
            # One time (the scipy path's batch of one): the same rule on a scalar, as the compiled
            # kernel calls it. numpy runs the same loops on a scalar as on a one-element array, so
            # the bits are the same, at a fifth to a third of the cost (BENCHMARKS.md, "The scipy path").
            u0, u1 = circle_point(float(t[0]), *self.args)
            return np.array([[u0, u1]])
        u0, u1 = circle_point(t, *self.args)
        return self.xp.stack([u0, u1], axis=-1)


def input_at(t, spec: InputSpec):
    """I(t) for a numpy array ``t`` of shape ``(B,)`` (convenience; see :class:`CircleInput`)."""
    return CircleInput(spec)(np.asarray(t, dtype=np.float64))


def input_curve(spec: InputSpec, n_points: int | None = None) -> np.ndarray:
    """Points of the input curve over the measured window ``[t_start, t_end]``, for its own length
    l(I), shape ``(T, 2)``.

    ``samples``: the samples in the window, plus the interpolated input at a window end that is not
    a sample time (l = 6.282131 for 100 points over ``[0, 2π]``). ``exact`` and ``off``: ``n_points``
    uniform times (default 10 000·⌈ω⌉ + 1, whose chord length is within 1e-7 relative of 2π·gain·ω).
    """
    ci = CircleInput(spec)
    if spec.kind == "samples":
        ts = sample_times(spec)
        tol = 1e-9 * spec.dt
        inside = (ts >= spec.t_start - tol) & (ts <= spec.t_end + tol)
        rows = ci.args[5] * ci.table[:-1][inside]
        ends = [t for t in (spec.t_start, spec.t_end) if np.min(np.abs(ts - t)) > tol]
        if not ends:
            return rows
        pts = np.concatenate([ci(np.array(ends)), rows])
        return pts[np.argsort(np.concatenate([ends, ts[inside]]), kind="stable")]
    n = n_points or 10_000 * max(1, math.ceil(spec.omega)) + 1
    return ci(np.linspace(spec.t_start, spec.t_end, n))
