"""Pipeline stage 5 (measures) — Lyapunov exponents beside the length (SPEC §6): how fast nearby
trajectories of the driven network separate.

Algorithm (Benettin, Galgani, Giorgilli & Strelcyn 1980; Shimada & Nagashima 1979): integrate the
state ``y`` together with ``m`` tangent vectors ``Q (N, m)`` of the variational equation
``dQ/dt = J(t, y) Q``, with ``J`` the model's analytic Jacobian (``VectorField.jacobian``; a Python
vector field's is the one given or finite differences). Every ``qr_interval`` time units ``Q`` is
re-orthonormalised, ``Q R = Q`` (QR, signs fixed so diag R > 0), and ``log R_ii`` is accumulated; the
i-th exponent is the accumulated ``log R_ii`` over the time integrated (after an optional
``transient`` that is integrated but not counted). Asymptotically the columns' rates come out in
decreasing order; over a finite span they need not, so the exponents are reported sorted in
decreasing order (``lyap_max`` is the largest).

Parameters (the defaults a row's ``lyap`` is computed with, ``--lyapunov m``):

* the span: the measured period ``[T, T + 2π]`` (``InputSpec.transient`` T, default 0: the input
  period ``[0, 2π]``) of the trajectory's own solve from ``x(0) = 0``, the transient integrated but
  not counted — for a driven network these are the *conditional* exponents of the driven system,
  and over one period they are finite-time exponents: the average stretching rates along the very
  trajectory whose length the row records, not asymptotic limits;
* :data:`QR_INTERVAL` = 0.1 time units between re-orthonormalisations (the span split into equal
  intervals no longer than that; far below the growth times ``1/|λ|`` of these networks, so no
  tangent vector collapses in between);
* :data:`METHOD` DOP853 with :data:`RTOL` = 1e-8, :data:`ATOL` = 1e-10 on the joint system
  (``scipy.integrate.solve_ivp``, restarted at every re-orthonormalisation);
* the initial tangent vectors: the Q of a QR of a standard-normal ``(N, m)`` matrix from
  ``default_rng(0)`` (fixed, so rows are reproducible).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["QR_INTERVAL", "RTOL", "ATOL", "METHOD", "Lyapunov", "exponents", "lambda_max_two_trajectories",
           "lyapunov_for"]

QR_INTERVAL = 0.1
RTOL = 1e-8
ATOL = 1e-10
METHOD = "DOP853"


@dataclass(frozen=True)
class Lyapunov:
    """The result of :func:`exponents`: ``exponents (m,)`` (1/time units), ``n_qr`` re-orthonormal-
    isations counted, ``nfev`` evaluations of the joint right-hand side, the final state ``y``."""

    exponents: np.ndarray
    n_qr: int
    nfev: int
    y: np.ndarray


def _one(field, period: float | None) -> tuple[Callable, Callable]:
    """``f(t, y (N,))`` and ``fj(t, y) -> (f, J)`` of a batch-of-one vector field (time wrapped into
    one input period when ``period`` is given, for spans longer than the input). ``fj`` takes both
    from one pass where the field offers it (:meth:`~trajlen.models.VectorField.value_and_jacobian`:
    the same numbers as two calls, at about half the cost)."""
    def wrap(t: float) -> np.ndarray:
        return np.array([math.fmod(t, period) if period else t])

    def f(t, y):
        return field(wrap(t), y[None])[0]

    both = getattr(field, "value_and_jacobian", None)
    if both is None:
        return f, (lambda t, y: (f(t, y), field.jacobian(wrap(t), y[None])[0]))

    def fj(t, y):
        v, J = both(wrap(t), y[None])
        return v[0], J[0]

    return f, fj


def exponents(field, y0: np.ndarray, t0: float, t1: float, m: int, *, transient: float = 0.0,
              qr_interval: float = QR_INTERVAL, rtol: float = RTOL, atol: float = ATOL,
              period: float | None = None, q0: np.ndarray | None = None) -> Lyapunov:
    """The ``m`` largest Lyapunov exponents along the trajectory from ``y0 (N,)`` at ``t0`` to ``t1``
    (module docstring), counting only ``[t0 + transient, t1]``.

    ``field`` has the :class:`~trajlen.models.VectorField` interface (``field(t (1,), y (1, N))``,
    ``field.jacobian``); ``period``: evaluate it at ``t mod period`` (a periodic input beyond its
    first period); ``q0 (N, m)``: initial tangent vectors (default: module docstring).
    """
    from scipy.integrate import solve_ivp

    y = np.asarray(y0, dtype=np.float64).copy()
    N = y.shape[0]
    if not (isinstance(m, int) and 1 <= m <= N):
        raise ValueError(f"m must be an integer in [1, {N}], got {m!r}")
    if not (t1 > t0 and 0 <= transient < t1 - t0 and qr_interval > 0):
        raise ValueError(f"need t1 > t0, 0 <= transient < t1 - t0, qr_interval > 0; got t0={t0}, "
                         f"t1={t1}, transient={transient}, qr_interval={qr_interval}")
    _, fj = _one(field, period)
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((N, m)) if q0 is None else q0)[0]

    def joint(t, z):
        v, J = fj(t, z[:N])
        return np.concatenate([v, (J @ z[N:].reshape(N, m)).ravel()])

    n = max(1, math.ceil((t1 - t0) / qr_interval - 1e-9))
    edges = np.linspace(t0, t1, n + 1)
    sums, counted, n_qr, nfev = np.zeros(m), 0.0, 0, 0
    for a, b in zip(edges[:-1], edges[1:]):
        sol = solve_ivp(joint, (a, b), np.concatenate([y, Q.ravel()]), method=METHOD, rtol=rtol, atol=atol)
        nfev += sol.nfev
        if sol.status != 0 or not np.all(np.isfinite(sol.y[:, -1])):
            raise FloatingPointError(f"the tangent integration failed at t={a:.6g}: {sol.message}")
        y = sol.y[:N, -1]
        Q, R = np.linalg.qr(sol.y[N:, -1].reshape(N, m))
        d = np.sign(np.diag(R))
        d[d == 0] = 1.0
        Q = Q * d
        if b > t0 + transient + 1e-12 * (t1 - t0):
            sums += np.log(np.abs(np.diag(R)))
            counted += b - a
            n_qr += 1
    return Lyapunov(np.sort(sums / counted)[::-1], n_qr, nfev, y)


def lambda_max_two_trajectories(field, y0: np.ndarray, t0: float, t1: float, *, transient: float = 0.0,
                                d0: float = 1e-8, interval: float = QR_INTERVAL, rtol: float = 1e-10,
                                atol: float = 1e-12, period: float | None = None,
                                direction: np.ndarray | None = None) -> float:
    """λ_max the direct way, without the Jacobian (Benettin et al. 1976): a second trajectory at
    distance ``d0``, renormalised back to ``d0`` along the separation every ``interval``; the mean of
    ``log(d/d0)`` per unit time. The cross-check of :func:`exponents` (it needs tighter tolerances:
    it differences two states ``d0`` apart)."""
    from scipy.integrate import solve_ivp

    f, _ = _one(field, period)
    y = np.asarray(y0, dtype=np.float64).copy()
    u = np.random.default_rng(0).standard_normal(y.shape[0]) if direction is None else direction
    x = y + d0 * u / np.linalg.norm(u)
    n = max(1, math.ceil((t1 - t0) / interval - 1e-9))
    edges = np.linspace(t0, t1, n + 1)
    total, counted = 0.0, 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        y = solve_ivp(f, (a, b), y, method=METHOD, rtol=rtol, atol=atol).y[:, -1]
        x = solve_ivp(f, (a, b), x, method=METHOD, rtol=rtol, atol=atol).y[:, -1]
        d = np.linalg.norm(x - y)
        x = y + (x - y) * (d0 / d)
        if b > t0 + transient + 1e-12 * (t1 - t0):
            total += math.log(d / d0)
            counted += b - a
    return total / counted


def lyapunov_for(net, inp, params, m: int) -> list[float]:
    """A row's ``lyap``: the ``m`` largest conditional exponents over the measured period
    ``[T, T + 2π]`` (``T = inp.transient``, 0 by default: the input period ``[0, 2π]``) of the
    solve from ``x(0) = 0``, the transient integrated but not counted (module docstring)."""
    from .models import field_for

    field = field_for(net, inp, params)
    lam = exponents(field, np.zeros(net.n_state), 0.0, inp.t_end, m, transient=inp.t_start).exponents
    return [float(v) for v in lam]
