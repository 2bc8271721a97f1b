"""CT-RNN, SPEC §1: ``dx/dt = −x/τ + f`` (Funahashi & Nakamura 1993): ``leak = 1/τ, drive = f``."""

from __future__ import annotations

from .._xp import jitable

NAME = "ctrnn"
#: Takes a separate recurrent gate g under ``recurrence="ltc_only"`` (the authors' code).
RECURRENT_GATE = False
#: Its leak holds 1/τ: a small τ makes it stiff, so an explicit solver's steps
#: grow like 1/τ_min (what :mod:`trajlen.balance` orders a sweep by).
TAU_IN_LEAK = True


@jitable
def leak_drive(x, f, g, c):
    """``(leak, drive)``, each ``(B, k)``; ``c.inv_tau`` is 1/τ of shape ``(B, k)``."""
    return c.inv_tau + 0.0 * x, f


@jitable
def partials(x, f, g, c):
    """``(∂rate/∂f, ∂rate/∂g)`` elementwise."""
    return 1.0 + 0.0 * f, 0.0 * f
