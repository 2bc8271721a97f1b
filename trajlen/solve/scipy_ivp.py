"""Pipeline stage 3 (solver, scipy backend) — one network at a time with ``scipy.integrate``.

We drive scipy's ``OdeSolver`` classes step by step — exactly the loop ``solve_ivp`` runs, so the
accepted steps are ``solve_ivp``'s — because that loop is where a step budget, a wall-time limit,
rejected-step counting and the refine/grid output points can be added without a second integrator.
Implicit methods (BDF, Radau, LSODA) get the analytic Jacobian of the model's vector field
(:func:`~trajlen.models.field_for`).
A registered explicit pair that scipy lacks (Tsit5) runs as a subclass of scipy's own
``RungeKutta`` built from its tableau — scipy's methods are only their class attributes ``C, A, B, E,
P, order, error_estimator_order, n_stages`` — so it takes scipy's steps by scipy's rules.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.integrate as si

from ..models import field_for
from ..params import Params
from ..spec import InputSpec, NetworkSpec, SolverSpec
from ..trajectory import Trajectory
from .output import output_times
from .registry import METHODS
from .tableau import Tableau

__all__ = ["solve_scipy", "solver_class"]


def _from_tableau(tab: Tableau) -> type:
    """A scipy ``RungeKutta`` solver class for an explicit pair of the registry."""
    return type(tab.name, (si._ivp.rk.RungeKutta,), dict(
        C=tab.C, A=tab.A, B=tab.B, E=tab.E, P=tab.P, order=tab.order,
        error_estimator_order=tab.error_order, n_stages=tab.n_stages))


def solver_class(method: str) -> type:
    """The ``scipy.integrate.OdeSolver`` class that runs ``method`` on the scipy backend: scipy's own
    where it has the method, else one built from the registry's tableau."""
    m = METHODS[method]
    if m.scipy_name is not None:
        return getattr(si, m.scipy_name)
    if m.kind != "explicit":
        raise ValueError(f"method {method!r} does not run on the scipy backend")
    return _from_tableau(m.tableau)


def _evals_per_attempt(cls: type) -> int | None:
    """RHS evaluations per step attempt of an explicit RK class (FSAL: stages 2..s plus f_new), to
    count rejected steps from the nfev each ``step()`` consumed; None for the implicit methods."""
    return int(cls.n_stages) if issubclass(cls, si._ivp.rk.RungeKutta) else None


def solve_scipy(net: NetworkSpec, params: Params, inp: InputSpec, solver: SolverSpec) -> Trajectory:
    """Integrate one network from x(0) = 0 over ``[0, inp.t_end]``.

    Returns a :class:`Trajectory` whose ``x`` is ``(T, depth·width)`` at the output points chosen by
    ``solver.output`` in the measured window ``[inp.t_start, inp.t_end]``. A solve that fails (scipy
    error status, non-finite state, step budget ``solver.max_steps``, time limit
    ``solver.max_seconds``) returns ``status`` ≠ ``"ok"`` with the points reached so far; it never
    raises for a numerical failure.
    """
    field = field_for(net, inp, params)
    n = net.n_state
    nfev = 0

    def fun(t, y):
        nonlocal nfev
        nfev += 1
        return field(np.array([t]), y[None, :])[0]

    def jac(t, y):
        return field.jacobian(np.array([t]), y[None, :])[0]

    cls = solver_class(solver.method)
    per_attempt = _evals_per_attempt(cls)
    kwargs = dict(rtol=solver.rtol, atol=solver.atol)
    if METHODS[solver.method].jacobian:
        kwargs["jac"] = jac
    t_end = inp.t_end
    start = time.perf_counter()
    status, message = "ok", ""
    steps_t, steps_y, dense = [0.0], [np.zeros(n)], []
    n_rej = 0 if per_attempt else -1
    need_dense = solver.output != "steps"
    ode = None
    try:
        ode = cls(fun, 0.0, np.zeros(n), t_end, **kwargs)
        while ode.status == "running":
            if len(steps_t) - 1 + max(n_rej, 0) >= solver.max_steps:
                status, message = "step_budget", f"step budget {solver.max_steps} exhausted at t={ode.t:.6g}"
                break
            if solver.max_seconds is not None and time.perf_counter() - start > solver.max_seconds:
                status, message = "time_limit", f"time limit {solver.max_seconds}s hit at t={ode.t:.6g}"
                break
            before = nfev
            msg = ode.step()
            if ode.status == "failed":
                status = "step_size_underflow" if msg and "step size" in msg.lower() else "solver_error"
                message = str(msg)
                break
            if n_rej >= 0:
                n_rej += (nfev - before) // per_attempt - 1
            if not np.all(np.isfinite(ode.y)):
                status, message = "non_finite", f"non-finite state at t={ode.t:.6g}"
                break
            steps_t.append(ode.t)
            steps_y.append(ode.y.copy())
            if need_dense:
                dense.append(ode.dense_output())
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as e:
        status, message = "solver_error", f"{type(e).__name__}: {e}"
    step_t = np.asarray(steps_t)
    if not need_dense or len(dense) == 0:
        t_out, x_out = step_t, np.asarray(steps_y)
    else:
        t_out = output_times(step_t, solver.output, solver.refine, solver.grid_points, t_end,
                             inp.t_start)
        t_out = t_out[t_out <= step_t[-1]]
        sol = si.OdeSolution(step_t, dense)
        x_out = sol(t_out).T
        # Step ends are exact in steps_y; keep them exact rather than interpolated.
        idx = np.searchsorted(t_out, step_t)
        hit = (idx < len(t_out)) & (t_out[np.minimum(idx, len(t_out) - 1)] == step_t)
        x_out[idx[hit]] = np.asarray(steps_y)[hit]
    return Trajectory(t=t_out, x=x_out, step_t=step_t, status=status, message=message,
                      n_accepted=len(step_t) - 1, n_rejected=n_rej,
                      nfev=nfev, njev=int(getattr(ode, "njev", 0) or 0) if ode is not None else 0
                      ).window(inp.t_start)
