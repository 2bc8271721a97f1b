"""Pipeline stage 3 (solver, torch backend) — step-size controllers, one rule set per network.

Every network of a batch keeps its own step size, error estimate and retry state; each rule below is
the scalar rule of scipy or MATLAB written once over the batch axis with ``torch.where``, so a network
takes the same steps alone or in any batch. Times and step sizes are float64 tensors of shape ``(b,)``
whatever the state dtype.

* :class:`ScipyController` mirrors ``scipy.integrate._ivp.rk.RungeKutta._step_impl`` and
  ``common.select_initial_step`` (scipy 1.17): RMS error norm, safety 0.9, factors 0.2–10, no growth
  after a rejection within a step, ``min_step = 10·|nextafter(t, ∞) − t|``, last step clipped to the end.
* :class:`MatlabController` mirrors MATLAB ``ode45.m`` / ``ode23.m`` (R2024 text as published in the
  public repository ``ING-RB/Drone_pick-place``, ``toolbox/matlab/funfun``): max-norm error scaled by
  ``max(|y|, |y_new|, AbsTol/RelTol)`` times ``absh`` against ``RelTol``, ``MaxStep = 0.1·|tf − t0|``,
  ``hmin = 16·eps(t)``, stretch to the end when within 10 %, shrink ``max(0.1, 0.8 (rtol/err)^{1/5})``
  (ode23: ``max(0.5, …)``, power 1/3) on the first failure and halve on later ones, grow by
  ``1/(1.25 (err/rtol)^{pow})`` capped at 5× only after a step without failure.

The loop in :mod:`trajlen.solve.batched` calls, per attempt: :meth:`begin_step` (rows starting a new
step), :meth:`attempt` (the step to try), :meth:`error`, :meth:`accept` and :meth:`update`. Controller
state lives in the loop's per-row dict ``s`` (keys ``t``, ``h_abs``, ``failed`` and the controller's
own), so compaction of the batch needs no controller code.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .tableau import Tableau, combine

__all__ = ["ScipyController", "MatlabController", "make_controller", "CONTROLLERS",
           "SAFETY", "MIN_FACTOR", "MAX_FACTOR"]

# scipy.integrate._ivp.rk constants.
SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0

# MATLAB ode45/ode23 constants.
MATLAB_MAX_STEP_FRACTION = 0.1    # default MaxStep = 0.1·|tf − t0| (odearguments.m)
MATLAB_STRETCH = 1.1              # take the rest of the interval if within 10 %
MATLAB_HMIN_EPS = 16.0            # hmin = 16·eps(t)
#: Floor of the first shrink factor after a failure: ode45 ``max(0.1, …)``, ode23 ``max(0.5, …)``.
MATLAB_FIRST_SHRINK_FLOOR = {"RK45": 0.1, "RK23": 0.5}

Rhs = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _rms(x: torch.Tensor) -> torch.Tensor:
    """scipy's ``norm``: ``‖x‖₂ / sqrt(n)`` per row, shape ``(b,)``."""
    return torch.linalg.vector_norm(x, dim=-1) / x.shape[-1] ** 0.5


def _eps(t: torch.Tensor) -> torch.Tensor:
    """MATLAB ``eps(t)``: the spacing from ``|t|`` to the next larger float (``2^-1074`` at 0)."""
    a = t.abs()
    return torch.nextafter(a, torch.full_like(a, math.inf)) - a


class ScipyController:
    """scipy's explicit Runge–Kutta step-size rules (``solve_ivp`` with ``max_step = inf``).

    Parameters
    ----------
    tab : adaptive :class:`~trajlen.solve.tableau.Tableau`
    rtol, atol : float
        Relative and absolute tolerance (scalars, as the solver spec holds them).
    """

    name = "scipy"

    def __init__(self, tab: Tableau, rtol: float, atol: float):
        self.tab, self.rtol, self.atol = tab, float(rtol), float(atol)
        self.exponent = -1.0 / (tab.error_order + 1)
        self.interp = tab.P

    # -- start ------------------------------------------------------------------------------------
    def initial_step(self, rhs: Rhs, t0: torch.Tensor, y0: torch.Tensor, f0: torch.Tensor,
                     t_end: float) -> tuple[torch.Tensor, int]:
        """``select_initial_step`` per row; returns ``(h_abs (b,), rhs evaluations used = 1)``."""
        rtol, atol = self.rtol, self.atol
        interval = abs(t_end - float(t0[0]))  # every row starts at the same t0
        scale = atol + y0.abs() * rtol
        d0 = _rms(y0 / scale).double()
        d1 = _rms(f0 / scale).double()
        h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), torch.full_like(d0, 1e-6), 0.01 * d0 / d1)
        h0 = torch.clamp(h0, max=interval)
        y1 = y0 + h0.to(y0.dtype)[:, None] * f0
        f1 = rhs(t0 + h0, y1)
        d2 = _rms((f1 - f0) / scale).double() / h0
        h1 = torch.where((d1 <= 1e-15) & (d2 <= 1e-15), torch.clamp(h0 * 1e-3, min=1e-6),
                         (0.01 / torch.maximum(d1, d2)) ** (1.0 / (self.tab.error_order + 1)))
        h = torch.minimum(torch.minimum(100 * h0, h1), torch.full_like(h0, interval))
        return h, 1

    def init_state(self, s: dict) -> None:
        s["failed"] = torch.zeros_like(s["t"], dtype=torch.bool)
        s["min_step"] = self._min_step(s["t"])

    # -- one attempt --------------------------------------------------------------------------------
    @staticmethod
    def _min_step(t: torch.Tensor) -> torch.Tensor:
        return 10.0 * (torch.nextafter(t, torch.full_like(t, math.inf)) - t).abs()

    def begin_step(self, s: dict, new: torch.Tensor, t_end: float) -> None:
        """Rows in ``new`` start a step: lift ``h_abs`` to ``min_step`` (max_step is infinite)."""
        # min_step depends only on t, which is fixed during a step: computed once per step.
        s["min_step"] = self._min_step(s["t"])
        s["h_abs"] = torch.where(new & (s["h_abs"] < s["min_step"]), s["min_step"], s["h_abs"])
        s["failed"] = s["failed"] & ~new

    def attempt(self, s: dict, t_end: float):
        """The step to try: ``(h_stage, h_final, t_new, t_fsal, ok)``; ``ok`` False = step underflow.

        scipy clips ``t + h_abs`` to the end, re-derives ``h = t_new − t`` and keeps ``|h|`` as the
        base of the next factor, so ``s["h_abs"]`` is overwritten here.
        """
        t = s["t"]
        ok = ~(s["h_abs"] < s["min_step"])
        t_new = t + s["h_abs"]
        t_new = torch.where(t_new > t_end, torch.full_like(t_new, t_end), t_new)
        h = t_new - t
        s["h_abs"] = h.abs()
        return h, h, t_new, t + h, ok

    def error(self, K: list[torch.Tensor], h: torch.Tensor, s: dict, y: torch.Tensor,
              y_new: torch.Tensor) -> torch.Tensor:
        """``norm(E·K·h / scale)`` with ``scale = atol + max(|y|, |y_new|)·rtol``, shape ``(b,)`` float64."""
        err = combine(K, self.tab.E) * h.to(y.dtype)[:, None]
        scale = self.atol + torch.maximum(y.abs(), y_new.abs()) * self.rtol
        return _rms(err / scale).double()

    @staticmethod
    def accept(err: torch.Tensor) -> torch.Tensor:
        return err < 1.0

    def update(self, s: dict, err: torch.Tensor, acc: torch.Tensor, rej: torch.Tensor) -> torch.Tensor:
        """New ``h_abs`` after the attempt; returns rows that fail now (never, for scipy)."""
        raw = SAFETY * err ** self.exponent
        grow = torch.where(err == 0, torch.full_like(err, MAX_FACTOR),
                           torch.where(raw < MAX_FACTOR, raw, torch.full_like(raw, MAX_FACTOR)))
        # After a rejection within this step the step may not grow (scipy: factor = min(1, factor)).
        grow = torch.where(s["failed"], torch.clamp(grow, max=1.0), grow)
        # Python's max(MIN_FACTOR, nan) is MIN_FACTOR: a NaN error shrinks by 0.2, as in scipy.
        shrink = torch.where(raw > MIN_FACTOR, raw, torch.full_like(raw, MIN_FACTOR))
        h = s["h_abs"]
        s["h_abs"] = torch.where(acc, h * grow, torch.where(rej, h * shrink, h))
        s["failed"] = s["failed"] | rej
        return torch.zeros_like(acc)


class MatlabController:
    """MATLAB ``ode45`` (RK45) / ``ode23`` (RK23) step-size rules with default options.

    Parameters
    ----------
    tab : adaptive :class:`~trajlen.solve.tableau.Tableau` (RK45 ↔ ode45, RK23 ↔ ode23)
    rtol, atol : float
        ``RelTol`` and scalar ``AbsTol``; ``threshold = AbsTol / RelTol``.
    """

    name = "matlab"

    def __init__(self, tab: Tableau, rtol: float, atol: float):
        self.tab, self.rtol, self.atol = tab, float(rtol), float(atol)
        self.threshold = self.atol / self.rtol
        self.pow = 1.0 / (tab.error_order + 1)
        self.first_floor = MATLAB_FIRST_SHRINK_FLOOR[tab.name]
        self.interp = tab.P_matlab
        self.hmax_user = math.inf   # set by initial_step from the interval

    def _hmin(self, t):
        return MATLAB_HMIN_EPS * _eps(t)

    def initial_step(self, rhs: Rhs, t0, y0, f0, t_end: float):
        """ode45's initial ``absh`` from ``f0``; returns ``(absh (b,), 0 extra evaluations)``."""
        htspan = abs(t_end - float(t0[0]))
        self.hmax_user = MATLAB_MAX_STEP_FRACTION * htspan
        hmin = self._hmin(t0)
        hmax = torch.clamp(hmin, min=self.hmax_user)            # hmax = max(tinystep, userhmax)
        absh = torch.minimum(hmax, torch.full_like(hmax, htspan))
        wt = torch.clamp(y0.abs(), min=self.threshold)
        rh = (f0 / wt).abs().amax(dim=-1).double() / (0.8 * self.rtol ** self.pow)
        absh = torch.where(absh * rh > 1, 1.0 / rh, absh)
        return torch.maximum(absh, hmin), 0

    def init_state(self, s: dict) -> None:
        s["failed"] = torch.zeros_like(s["t"], dtype=torch.bool)    # ode45's ``~nofailed``
        s["done"] = torch.zeros_like(s["t"], dtype=torch.bool)
        s["h"] = s["h_abs"].clone()

    def begin_step(self, s: dict, new: torch.Tensor, t_end: float) -> None:
        """Top of ode45's main loop for rows in ``new``: clamp ``absh`` to [hmin, hmax], stretch."""
        t = s["t"]
        hmin = self._hmin(t)
        hmax = torch.clamp(hmin, min=self.hmax_user)
        absh = torch.minimum(hmax, torch.maximum(hmin, s["h_abs"]))
        rest = t_end - t
        stretch = MATLAB_STRETCH * absh >= rest.abs()
        h = torch.where(stretch, rest, absh)
        absh = torch.where(stretch, h.abs(), absh)
        s["h_abs"] = torch.where(new, absh, s["h_abs"])
        s["h"] = torch.where(new, h, s["h"])
        s["done"] = torch.where(new, stretch, s["done"])
        s["failed"] = s["failed"] & ~new

    def attempt(self, s: dict, t_end: float):
        """Stages use ``h``; ``t_new = t + h`` (``= tf`` when stretched) and the purified
        ``h = t_new − t`` builds ``y_new``; the FSAL stage is evaluated at ``t_new``."""
        t, h = s["t"], s["h"]
        t_new = torch.where(s["done"], torch.full_like(t, t_end), t + h)
        return h, t_new - t, t_new, t_new, torch.ones_like(s["done"])

    def error(self, K, h, s, y, y_new) -> torch.Tensor:
        """``absh · ‖(K·E) ./ max(max(|y|, |y_new|), threshold)‖∞``, shape ``(b,)`` float64."""
        fE = combine(K, self.tab.E)
        wt = torch.clamp(torch.maximum(y.abs(), y_new.abs()), min=self.threshold)
        return s["h_abs"] * (fE / wt).abs().amax(dim=-1).double()

    def accept(self, err: torch.Tensor) -> torch.Tensor:
        # ode45 rejects only when ``err > rtol``: a NaN error is accepted there (and our loop then
        # records the non-finite state as a failure).
        return ~(err > self.rtol)

    def update(self, s: dict, err, acc, rej) -> torch.Tensor:
        """Shrink after a failure (first: ``max(0.1, 0.8 (rtol/err)^pow)``, later: halve), grow after
        a step without failure. Returns the rows that fail now: a rejection with ``absh <= hmin``."""
        absh = s["h_abs"]
        hmin = self._hmin(s["t"])
        underflow = rej & (absh <= hmin)
        first = torch.clamp(0.8 * (self.rtol / err) ** self.pow, min=self.first_floor)
        shrunk = torch.where(s["failed"], torch.maximum(hmin, 0.5 * absh),
                             torch.maximum(hmin, absh * first))
        temp = 1.25 * (err / self.rtol) ** self.pow
        grown = torch.where(temp > 0.2, absh / temp, 5.0 * absh)
        # After a failure in this step ode45 keeps absh ("if nofailed … compute a new h").
        grown = torch.where(s["failed"], absh, grown)
        s["h_abs"] = torch.where(acc, grown, torch.where(rej, shrunk, absh))
        s["h"] = torch.where(rej, s["h_abs"], s["h"])
        s["done"] = s["done"] & ~rej
        s["failed"] = s["failed"] | rej
        return underflow


CONTROLLERS = {"scipy": ScipyController, "matlab": MatlabController}


def make_controller(name: str, tab: Tableau, rtol: float, atol: float):
    """The controller called ``name`` (``"scipy"`` or ``"matlab"``) for tableau ``tab``."""
    if name not in CONTROLLERS:
        raise ValueError(f"controller must be one of {', '.join(CONTROLLERS)}, got {name!r}")
    if not tab.adaptive:
        raise ValueError(f"controller {name!r} needs an adaptive pair (RK23, RK45), got {tab.name!r}")
    return CONTROLLERS[name](tab, rtol, atol)
