"""Pipeline stage 3 (solver: the step-size controller axis) — scipy's and MATLAB's step-size rules,
each written once.

Every rule is :func:`~trajlen._xp.jitable` and written with :func:`~trajlen._xp.where` instead of
``if``, so the same line serves the torch batch (arguments are ``(b,)`` tensors, one entry per network)
and the compiled kernel (arguments are scalars). The executors only loop: they call these rules to
start a step, to pick the step to try, to scale the error, to accept, and to choose the next step.

* ``scipy_*`` mirror ``scipy.integrate._ivp.rk.RungeKutta._step_impl`` and
  ``common.select_initial_step`` (scipy 1.17, ``max_step = inf``): RMS error norm of
  ``err / (atol + rtol·max(|y|, |y_new|))``, safety 0.9, factors 0.2–10, no growth after a rejection
  within a step, ``min_step = 10·|nextafter(t, ∞) − t|``, the last step clipped to the end.
* ``matlab_*`` mirror MATLAB ``ode45.m`` / ``ode23.m`` (R2024 text as published in the public
  repository ``ING-RB/Drone_pick-place``, ``toolbox/matlab/funfun``): max-norm error
  ``absh·‖err ./ max(|y|, |y_new|, AbsTol/RelTol)‖∞`` against ``RelTol``, ``MaxStep = 0.1·|tf − t0|``,
  ``hmin = 16·eps(t)``, stretch to the end when within 10 %, shrink ``max(floor, 0.8 (rtol/err)^pow)``
  (ode45: floor 0.1, ode23: 0.5) on the first failure and halve on later ones, grow by
  ``1/(1.25 (err/rtol)^pow)`` capped at 5× only after a step without failure.

The error norms are a per-component rule (``*_scaled``) and a reduction (RMS or max) that each
executor performs in its own way: a loop in the kernel, a vector norm on the batch.

``where`` evaluates both branches, so a rule may divide by zero in the branch it does not take; the
rules are compiled with numpy's error model (IEEE results, no exception) and the executors run numpy
and torch with their default IEEE behaviour.
"""

from __future__ import annotations

from .._xp import jitable, logical_not, maximum, minimum, next_up, power, where
from .registry import CONTROLLERS

__all__ = ["SAFETY", "MIN_FACTOR", "MAX_FACTOR", "MATLAB_MAX_STEP_FRACTION", "MATLAB_STRETCH",
           "MATLAB_HMIN_EPS", "CONTROLLERS", "eps", "scipy_scaled", "scipy_h0", "scipy_h1",
           "scipy_min_step", "scipy_step_to_try", "scipy_next_step", "scipy_accept", "matlab_scaled",
           "matlab_hmin", "matlab_initial_step", "matlab_begin_step", "matlab_step_to_try",
           "matlab_next_step", "matlab_accept", "matlab_max_step"]

# scipy.integrate._ivp.rk constants.
SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0

# MATLAB ode45/ode23 constants.
MATLAB_MAX_STEP_FRACTION = 0.1    # default MaxStep = 0.1·|tf − t0| (odearguments.m)
MATLAB_STRETCH = 1.1              # take the rest of the interval if within 10 %
MATLAB_HMIN_EPS = 16.0            # hmin = 16·eps(t)


@jitable
def eps(t):
    """MATLAB ``eps(t)``: the spacing from ``|t|`` to the next larger float (``2^-1074`` at 0)."""
    a = abs(t)
    return next_up(a) - a


# -- scipy ---------------------------------------------------------------------------------------------
@jitable
def scipy_scaled(e, h, y, y_new, rtol, atol):
    """One component of scipy's scaled error: ``e·h / (atol + rtol·max(|y|, |y_new|))`` (RMS over the
    components is the error norm; ``h = 1``, ``y_new = y`` give select_initial_step's scaling)."""
    return e * h / (atol + maximum(abs(y), abs(y_new)) * rtol)


@jitable
def scipy_h0(d0, d1, interval):
    """select_initial_step's first guess from ``d0 = ‖y0‖``, ``d1 = ‖f0‖`` (scaled RMS norms)."""
    h0 = where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
    return minimum(h0, interval)


@jitable
def scipy_h1(h0, d1, d2, interval, error_order):
    """select_initial_step's result, with ``d2 = ‖f(t0 + h0, y0 + h0 f0) − f0‖ / h0``."""
    h1 = where((d1 <= 1e-15) & (d2 <= 1e-15), maximum(1e-6, h0 * 1e-3),
               power(0.01 / maximum(d1, d2), 1.0 / (error_order + 1)))
    return minimum(minimum(100 * h0, h1), interval)


@jitable
def scipy_min_step(t):
    """``10·|nextafter(t, ∞) − t|``: a step below it is a step-size underflow."""
    return 10.0 * abs(next_up(t) - t)


@jitable
def scipy_step_to_try(t, h_abs, t_end):
    """``(t_new, h)``: ``t + h_abs`` clipped to the end, and the step ``t_new − t`` that reaches it
    (whose size is also the base of the next factor)."""
    t_new = t + h_abs
    t_new = where(t_new > t_end, t_end, t_new)
    return t_new, t_new - t


@jitable
def scipy_accept(err, rtol):
    return err < 1.0


@jitable
def scipy_next_step(h_abs, err, accept, failed, error_order):
    """The step after an attempt of size ``h_abs`` with scaled error ``err``; ``failed``: a rejection
    happened earlier within this step (then the step may not grow). Python's ``max(0.2, nan)`` is 0.2:
    a NaN error shrinks by the minimum factor, as in scipy."""
    raw = SAFETY * power(err, -1.0 / (error_order + 1))
    grow = where(err == 0, MAX_FACTOR, where(raw < MAX_FACTOR, raw, MAX_FACTOR))
    grow = where(failed & (grow > 1.0), 1.0, grow)
    shrink = where(raw > MIN_FACTOR, raw, MIN_FACTOR)
    return where(accept, h_abs * grow, h_abs * shrink)


# -- MATLAB --------------------------------------------------------------------------------------------
@jitable
def matlab_scaled(e, y, y_new, threshold):
    """One component of MATLAB's error: ``|e| / max(|y|, |y_new|, threshold)``, threshold =
    AbsTol/RelTol (the max over components, times ``absh``, is the error)."""
    wt = maximum(abs(y), abs(y_new))
    wt = where(wt < threshold, threshold, wt)
    return abs(e / wt)


def matlab_max_step(period: float) -> float:
    """MATLAB's default ``MaxStep = 0.1·|tf − t0|`` of a solve over one ``period`` (2π), which is what
    every solve gets, transient or not: the measured window ``[T, T + 2π]`` is then stepped by the
    rules Table 2's ``[0, 2π]`` was (ode45 over ``[0, T + 2π]`` would allow 0.1·(T + 2π) and sample
    the window more coarsely the longer the transient)."""
    return MATLAB_MAX_STEP_FRACTION * period


@jitable
def matlab_hmin(t):
    return MATLAB_HMIN_EPS * eps(t)


@jitable
def matlab_initial_step(t0, rh, htspan, hmax_user):
    """ode45's initial ``absh`` from ``rh = ‖f0 ./ max(|y0|, threshold)‖∞ / (0.8·RelTol^pow)``."""
    hmin = matlab_hmin(t0)
    hmax = maximum(hmin, hmax_user)
    absh = minimum(hmax, htspan)
    absh = where(absh * rh > 1, 1.0 / rh, absh)
    return maximum(absh, hmin)


@jitable
def matlab_begin_step(t, h_abs, t_end, hmax_user):
    """Top of ode45's main loop: clamp ``absh`` to [hmin, hmax], stretch to the end when within 10 %.
    Returns ``(absh, h, done)``; ``h`` is the step the stages use."""
    hmin = matlab_hmin(t)
    hmax = maximum(hmin, hmax_user)
    absh = minimum(hmax, maximum(hmin, h_abs))
    rest = t_end - t
    done = MATLAB_STRETCH * absh >= abs(rest)
    h = where(done, rest, absh)
    absh = where(done, abs(h), absh)
    return absh, h, done


@jitable
def matlab_step_to_try(t, h, done, t_end):
    """``(t_new, h_final)``: ode45's ``tnew = t + h`` (``tf`` exactly when stretched) and the
    "purified" step ``tnew − t`` that builds ``y_new``; the stages use ``h``."""
    t_new = where(done, t_end, t + h)
    return t_new, t_new - t


@jitable
def matlab_accept(err, rtol):
    # ode45 rejects only when err > rtol: a NaN error is accepted there (and the executor then
    # records the non-finite state as a failure).
    return logical_not(err > rtol)


@jitable
def matlab_next_step(h_abs, err, accept, failed, rtol, error_order, hmin, shrink_floor):
    """The next ``absh``: after an accepted step without failure ``absh / (1.25 (err/rtol)^pow)``, at
    most 5×; after an accepted step with a failure, unchanged; after a first rejection
    ``absh·max(shrink_floor, 0.8 (rtol/err)^pow)``, after later ones ``absh/2``; never below hmin."""
    pw = 1.0 / (error_order + 1)
    temp = 1.25 * power(err / rtol, pw)
    grown = where(failed, h_abs, where(temp > 0.2, h_abs / temp, 5.0 * h_abs))
    first = 0.8 * power(rtol / err, pw)
    first = where(first < shrink_floor, shrink_floor, first)
    shrunk = where(failed, maximum(hmin, 0.5 * h_abs), maximum(hmin, h_abs * first))
    return where(accept, grown, shrunk)
