"""Liquid time-constant network (paper Eq. 1; SPEC §1a/§1b).

Paper (``ltc_decay="signed"``, no separate recurrent gate): ``dx/dt = −(1/τ + f) ⊙ x + f ⊙ A``.
Authors' code (``ltc_decay="abs"``, ``recurrence="ltc_only"``, ``ltc_A="column_sums"``):
``dx/dt = −x ⊙ (1/τ + |f| + |g|) + A ⊙ f + A_r ⊙ g``.

In the shared form ``dx/dt = −leak ⊙ x + drive``: ``leak = 1/τ + D(f) [+ D(g)]``,
``drive = A ⊙ f [+ A_r ⊙ g]`` with D = |·| or the identity. Paper Eq. 3's fused step uses the same
pair. With a sigmoid f (positive, bounded) and the paper's form, Theorem 2 bounds each state to
``[min(0, A_min), max(0, A_max)]``.
"""

from __future__ import annotations

from .._xp import jitable

NAME = "ltc"
#: Takes a separate recurrent gate g under ``recurrence="ltc_only"`` (the authors' code).
RECURRENT_GATE = True
#: Its leak holds 1/τ: a small τ makes it stiff, so an explicit solver's steps
#: grow like 1/τ_min (what :mod:`trajlen.balance` orders a sweep by).
TAU_IN_LEAK = True


@jitable
def _decay(v, c):
    # Builtin abs(): the same call for numpy, torch and numba arrays.
    if c.abs_decay:
        return abs(v)
    return v


@jitable
def _ddecay(v, c):
    # sign(v) from comparisons, so numpy, torch and numba all run the same line.
    if c.abs_decay:
        return 1.0 * (v > 0) - 1.0 * (v < 0)
    return 1.0 + 0.0 * v


@jitable
def leak_drive(x, f, g, c):
    """``(leak, drive)`` for ``x, f, g`` of shape ``(B, k)`` (``g`` None without a recurrent gate)."""
    leak = c.inv_tau + _decay(f, c)
    drive = c.A * f
    if g is not None:
        leak = leak + _decay(g, c)
        drive = drive + c.A_r * g
    return leak, drive


@jitable
def partials(x, f, g, c):
    """``(∂rate/∂f, ∂rate/∂g)`` elementwise: ``A − x ⊙ D'(f)`` and ``A_r − x ⊙ D'(g)``."""
    df = c.A - x * _ddecay(f, c)
    dg = None if g is None else c.A_r - x * _ddecay(g, c)
    return df, dg
