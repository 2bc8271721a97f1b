"""The logistic sigmoid ``1 / (1 + e^{−p})``."""

from .._xp import jitable, logistic

NAME = "sigmoid"
KINKS: tuple[float, ...] = ()


@jitable
def phi(p, sat):
    return logistic(p)


@jitable
def dphi(p, sat):
    s = logistic(p)
    return s * (1.0 - s)
