"""Neural ODE, SPEC §1: ``dx/dt = f`` (Chen et al. 2018).

Every model is written as ``dx/dt = −leak ⊙ x + drive``, the form that paper Eq. 3's fused step
``x ← (x + Δt·drive) / (1 + Δt·leak)`` also uses; for the N-ODE ``leak = 0, drive = f``.
"""

from __future__ import annotations

from .._xp import jitable

NAME = "node"
#: Takes a separate recurrent gate g under ``recurrence="ltc_only"`` (the authors' code).
RECURRENT_GATE = False
#: Its leak holds no 1/τ, so τ does not set its stiffness (:mod:`trajlen.balance`).
TAU_IN_LEAK = False


@jitable
def leak_drive(x, f, g, c):
    """``(leak, drive)`` for states ``x`` and gates ``f`` of shape ``(B, k)``; ``g`` unused."""
    return 0.0 * x, f


@jitable
def partials(x, f, g, c):
    """``(∂rate/∂f, ∂rate/∂g)`` elementwise, each ``(B, k)`` (no gate: ∂rate/∂g = 0)."""
    return 1.0 + 0.0 * f, 0.0 * f
