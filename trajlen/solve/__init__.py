"""Pipeline stage 3 — solvers: scipy per network (``scipy_ivp``) and the batched torch solver
(``batched``: tableaus, controllers, fixed-step methods)."""

from .scipy_ivp import SCIPY_METHODS, solve_scipy

__all__ = ["solve_scipy", "SCIPY_METHODS"]
