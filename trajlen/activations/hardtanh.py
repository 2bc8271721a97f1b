"""Hard-tanh, the true clip to ``[−1, 1]`` (the paper's text); derivative ``[|p| < 1]``."""

from .._xp import jitable, where

NAME = "hardtanh"
KINKS: tuple[float, ...] = (-1.0, 1.0)


@jitable
def phi(p, sat):
    return where(p < -1.0, -1.0, where(p > 1.0, 1.0, p))


@jitable
def dphi(p, sat):
    return where(abs(p) < 1.0, 1.0, 0.0)
