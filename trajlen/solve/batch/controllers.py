"""The torch executor's step-size controllers: the rules of :mod:`trajlen.solve.controllers` applied
to every network of a batch at once.

Every network keeps its own step size, error estimate and retry state; the rules are evaluated over
the batch axis (arguments are ``(b,)`` tensors), so a network takes the same steps alone or in any
batch. Times and step sizes are float64 tensors whatever the state dtype. Controller state lives in
the loop's per-row dict ``s`` (keys ``t``, ``h_abs``, ``failed`` and the controller's own), so
compaction of the batch needs no controller code. The loop calls, per attempt: :meth:`begin_step`
(rows starting a new step), :meth:`attempt` (the step to try), :meth:`error`, :meth:`accept` and
:meth:`update`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import controllers as R
from ..tableau import Tableau, combine

__all__ = ["ScipyController", "MatlabController", "make_controller"]

Rhs = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _rms(x: torch.Tensor) -> torch.Tensor:
    """scipy's ``norm``: ``‖x‖₂ / sqrt(n)`` per row, shape ``(b,)``."""
    return torch.linalg.vector_norm(x, dim=-1) / x.shape[-1] ** 0.5


class ScipyController:
    """scipy's explicit Runge–Kutta step-size rules (``solve_ivp`` with ``max_step = inf``).

    Parameters
    ----------
    tab : adaptive :class:`~trajlen.solve.tableau.Tableau`
    rtol, atol : float
    """

    name = "scipy"

    def __init__(self, tab: Tableau, rtol: float, atol: float):
        self.tab, self.rtol, self.atol = tab, float(rtol), float(atol)
        self.interp = tab.P

    def initial_step(self, rhs: Rhs, t0: torch.Tensor, y0: torch.Tensor, f0: torch.Tensor,
                     t_end: float) -> tuple[torch.Tensor, int]:
        """``select_initial_step`` per row; returns ``(h_abs (b,), rhs evaluations used = 1)``."""
        rtol, atol = self.rtol, self.atol
        interval = abs(t_end - float(t0[0]))  # every row starts at the same t0
        d0 = _rms(R.scipy_scaled(y0, 1.0, y0, y0, rtol, atol)).double()
        d1 = _rms(R.scipy_scaled(f0, 1.0, y0, y0, rtol, atol)).double()
        h0 = R.scipy_h0(d0, d1, interval)
        f1 = rhs(t0 + h0, y0 + h0.to(y0.dtype)[:, None] * f0)
        d2 = _rms(R.scipy_scaled(f1 - f0, 1.0, y0, y0, rtol, atol)).double() / h0
        return R.scipy_h1(h0, d1, d2, interval, self.tab.error_order), 1

    def init_state(self, s: dict) -> None:
        s["failed"] = torch.zeros_like(s["t"], dtype=torch.bool)
        s["min_step"] = R.scipy_min_step(s["t"])

    def begin_step(self, s: dict, new: torch.Tensor, t_end: float) -> None:
        """Rows in ``new`` start a step: lift ``h_abs`` to ``min_step`` (max_step is infinite)."""
        s["min_step"] = R.scipy_min_step(s["t"])   # depends only on t: once per step
        s["h_abs"] = torch.where(new & (s["h_abs"] < s["min_step"]), s["min_step"], s["h_abs"])
        s["failed"] = s["failed"] & ~new

    def attempt(self, s: dict, t_end: float):
        """The step to try: ``(h_stage, h_final, t_new, t_fsal, ok)``; ``ok`` False = step underflow.
        ``s["h_abs"]`` becomes the size of the step clipped to the end (the next factor's base)."""
        t = s["t"]
        ok = ~(s["h_abs"] < s["min_step"])
        t_new, h = R.scipy_step_to_try(t, s["h_abs"], t_end)
        s["h_abs"] = h.abs()
        return h, h, t_new, t + h, ok

    def error(self, K: list[torch.Tensor], h: torch.Tensor, s: dict, y: torch.Tensor,
              y_new: torch.Tensor) -> torch.Tensor:
        """scipy's error norm per row, ``(b,)`` float64."""
        e = combine(K, self.tab.E)
        return _rms(R.scipy_scaled(e, h.to(y.dtype)[:, None], y, y_new, self.rtol, self.atol)).double()

    def accept(self, err: torch.Tensor) -> torch.Tensor:
        return R.scipy_accept(err, self.rtol)

    def update(self, s: dict, err: torch.Tensor, acc: torch.Tensor, rej: torch.Tensor) -> torch.Tensor:
        """New ``h_abs`` after the attempt; returns rows that fail now (never, for scipy)."""
        h = s["h_abs"]
        new = R.scipy_next_step(h, err, acc, s["failed"], self.tab.error_order)
        s["h_abs"] = torch.where(acc | rej, new, h)
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

    def __init__(self, tab: Tableau, rtol: float, atol: float, period: float | None = None):
        self.tab, self.rtol, self.atol = tab, float(rtol), float(atol)
        self.threshold = self.atol / self.rtol
        self.interp = tab.P_matlab
        self.period = period
        self.hmax_user = float("inf")   # set by initial_step from the period (or the interval)

    def initial_step(self, rhs: Rhs, t0, y0, f0, t_end: float):
        """ode45's initial ``absh`` from ``f0``; returns ``(absh (b,), 0 extra evaluations)``. MaxStep
        is that of a solve over one ``period`` (:func:`~trajlen.solve.controllers.matlab_max_step`),
        or of the interval when no period was given."""
        htspan = abs(t_end - float(t0[0]))
        self.hmax_user = R.matlab_max_step(htspan if self.period is None else self.period)
        pw = 1.0 / (self.tab.error_order + 1)
        rh = R.matlab_scaled(f0, y0, y0, self.threshold).amax(dim=-1).double() / (0.8 * self.rtol ** pw)
        return R.matlab_initial_step(t0, rh, htspan, self.hmax_user), 0

    def init_state(self, s: dict) -> None:
        s["failed"] = torch.zeros_like(s["t"], dtype=torch.bool)    # ode45's ``~nofailed``
        s["done"] = torch.zeros_like(s["t"], dtype=torch.bool)
        s["h"] = s["h_abs"].clone()

    def begin_step(self, s: dict, new: torch.Tensor, t_end: float) -> None:
        """Top of ode45's main loop for rows in ``new``: clamp ``absh`` to [hmin, hmax], stretch."""
        absh, h, done = R.matlab_begin_step(s["t"], s["h_abs"], t_end, self.hmax_user)
        s["h_abs"] = torch.where(new, absh, s["h_abs"])
        s["h"] = torch.where(new, h, s["h"])
        s["done"] = torch.where(new, done, s["done"])
        s["failed"] = s["failed"] & ~new

    def attempt(self, s: dict, t_end: float):
        """Stages use ``h``; ``t_new`` and the purified ``h = t_new − t`` build ``y_new``; the FSAL
        stage is evaluated at ``t_new``."""
        t_new, h_final = R.matlab_step_to_try(s["t"], s["h"], s["done"], t_end)
        return s["h"], h_final, t_new, t_new, torch.ones_like(s["done"])

    def error(self, K, h, s, y, y_new) -> torch.Tensor:
        """``absh · ‖(K·E) ./ max(|y|, |y_new|, threshold)‖∞`` per row, ``(b,)`` float64."""
        e = combine(K, self.tab.E)
        return s["h_abs"] * R.matlab_scaled(e, y, y_new, self.threshold).amax(dim=-1).double()

    def accept(self, err: torch.Tensor) -> torch.Tensor:
        return R.matlab_accept(err, self.rtol)

    def update(self, s: dict, err, acc, rej) -> torch.Tensor:
        """The next ``absh`` (:func:`trajlen.solve.controllers.matlab_next_step`). Returns the rows
        that fail now: a rejection with ``absh <= hmin``."""
        absh = s["h_abs"]
        hmin = R.matlab_hmin(s["t"])
        underflow = rej & (absh <= hmin)
        new = R.matlab_next_step(absh, err, acc, s["failed"], self.rtol, self.tab.error_order, hmin,
                                 self.tab.matlab_shrink_floor)
        s["h_abs"] = torch.where(acc | rej, new, absh)
        s["h"] = torch.where(rej, s["h_abs"], s["h"])
        s["done"] = s["done"] & ~rej
        s["failed"] = s["failed"] | rej
        return underflow


CONTROLLERS = {"scipy": ScipyController, "matlab": MatlabController}


def make_controller(name: str, tab: Tableau, rtol: float, atol: float, period: float | None = None):
    """The controller called ``name`` (``"scipy"`` or ``"matlab"``) for tableau ``tab``; ``period``:
    the measured window MATLAB's MaxStep refers to (None: the whole interval)."""
    if name not in CONTROLLERS:
        raise ValueError(f"controller must be one of {', '.join(CONTROLLERS)}, got {name!r}")
    if not tab.adaptive:
        raise ValueError(f"controller {name!r} needs an adaptive pair, got {tab.name!r}")
    if name == "matlab":
        return MatlabController(tab, rtol, atol, period)
    return CONTROLLERS[name](tab, rtol, atol)
