"""Pipeline stage 3 (solver) — the one list of methods and of the backends that run each.

The spec validation (:class:`trajlen.spec.SolverSpec`), the CLI choices, ``backend="auto"`` and the
error messages all read :data:`METHODS`; the tests enrol every entry. This module imports neither
scipy's solvers, numba nor torch, so the spec layer can read it cheaply.

Adding a Runge–Kutta pair is its tableau file in :mod:`trajlen.solve.methods` and one line here: every
backend runs an explicit tableau generically (scipy through an ``OdeSolver`` subclass built from it).
"""

from __future__ import annotations

from dataclasses import dataclass

from .methods import euler, rk4, rk23, rk45, tsit5
from .tableau import Tableau

__all__ = ["Method", "METHODS", "BACKENDS", "CONTROLLERS", "OUTPUTS", "KINDS", "TIME_LIMITED",
           "methods_for", "resolve_backend"]

BACKENDS = ("auto", "scipy", "torch", "numba")
#: the step-size controllers of the adaptive explicit pairs (:mod:`trajlen.solve.controllers`)
CONTROLLERS = ("scipy", "matlab")
#: what a solve outputs (:mod:`trajlen.solve.output`)
OUTPUTS = ("steps", "refine", "grid")
#: explicit: an adaptive explicit Runge–Kutta pair (a tableau); fixed: a fixed-step method;
#: rosenbrock / switching: the compiled kernel's stiff methods; scipy: a method scipy implements itself.
KINDS = ("explicit", "fixed", "rosenbrock", "switching", "scipy")


@dataclass(frozen=True)
class Method:
    """A registered method.

    Attributes
    ----------
    name : the method's name in specs and on the command line.
    kind : one of :data:`KINDS`.
    backends : the backends that run it, fastest on a CPU first (what ``auto`` prefers).
    order : order of the propagated solution (for the convergence tests).
    tableau : the Butcher tableau (explicit and fixed Runge–Kutta methods).
    scipy_name : the ``scipy.integrate`` class of the same method, where scipy has one (the
        equality tests compare against it).
    jacobian : the method uses the analytic Jacobian (scipy's implicit methods).
    summary : one line for ``--help``.
    """

    name: str
    kind: str
    backends: tuple[str, ...]
    order: int
    tableau: Tableau | None = None
    scipy_name: str | None = None
    jacobian: bool = False
    summary: str = ""

    @property
    def adaptive(self) -> bool:
        return self.kind != "fixed"


_M = Method
METHODS: dict[str, Method] = {m.name: m for m in (
    _M("RK23", "explicit", ("numba", "torch", "scipy"), 3, rk23.TABLEAU, "RK23",
       summary="Bogacki–Shampine 3(2) (ode23)"),
    _M("RK45", "explicit", ("numba", "torch", "scipy"), 5, rk45.TABLEAU, "RK45",
       summary="Dormand–Prince 5(4) (ode45)"),
    _M("Tsit5", "explicit", ("numba", "torch", "scipy"), 5, tsit5.TABLEAU, None,
       summary="Tsitouras 5(4)"),
    _M("DOP853", "scipy", ("scipy",), 8, scipy_name="DOP853", summary="Dormand–Prince 8(5,3)"),
    _M("BDF", "scipy", ("scipy",), 1, scipy_name="BDF", jacobian=True,
       summary="variable-order BDF (implicit)"),
    _M("Radau", "scipy", ("scipy",), 5, scipy_name="Radau", jacobian=True,
       summary="Radau IIA (implicit)"),
    _M("LSODA", "scipy", ("scipy",), 1, scipy_name="LSODA", jacobian=True,
       summary="Adams/BDF switching (ODEPACK)"),
    _M("ros23w", "rosenbrock", ("numba",), 2,
       summary="ode23s's Rosenbrock pair as a W-method with the diagonal Jacobian"),
    _M("RK45+ros23w", "switching", ("numba",), 5,
       summary="RK45 until its stiffness test fires, then ros23w"),
    _M("euler", "fixed", ("torch",), 1, euler.TABLEAU, summary="explicit Euler (fixed step)"),
    _M("rk4", "fixed", ("torch",), 4, rk4.TABLEAU, summary="classical RK4 (fixed step)"),
    _M("fused", "fixed", ("torch",), 1, summary="the paper's fused LTC step, Eq. 3 (fixed step)"),
    _M("ncps_fused", "fixed", ("torch",), 1,
       summary="ncps's LTC solver: ode_unfolds fused steps per input step, input held, eps 1e-8"),
)}


def methods_for(backend: str) -> tuple[str, ...]:
    """The methods ``backend`` runs, in registry order."""
    return tuple(name for name, m in METHODS.items() if backend in m.backends)


#: Backends that enforce a wall-time limit per solve (``max_seconds``); torch's batch shares one clock.
TIME_LIMITED = ("scipy", "numba")


def resolve_backend(method: str, device: str = "cpu", dtype: str = "float64",
                    max_seconds: float | None = None) -> str:
    """The backend ``backend="auto"`` runs: the first of the method's backends (fastest on a CPU
    first) that supports the request — CUDA or float32 need torch, a wall-time limit per solve a
    backend in :data:`TIME_LIMITED`. When none does, the one whose own check will name the problem."""
    m = METHODS.get(method)
    if m is None:
        return "scipy"
    needs_torch = device != "cpu" or dtype != "float64"
    for b in m.backends:
        if needs_torch and b != "torch":
            continue
        if max_seconds is not None and b not in TIME_LIMITED:
            continue
        return b
    return "torch" if needs_torch else m.backends[0]
