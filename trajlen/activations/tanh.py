"""tanh."""

from .._xp import jitable, tanh

NAME = "tanh"
KINKS: tuple[float, ...] = ()


@jitable
def phi(p, sat):
    return tanh(p)


@jitable
def dphi(p, sat):
    t = tanh(p)
    return 1.0 - t * t
