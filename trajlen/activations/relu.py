"""ReLU ``max(p, 0)``; its derivative almost everywhere, ``[p > 0]``."""

from .._xp import jitable, where

NAME = "relu"
KINKS: tuple[float, ...] = (0.0,)


@jitable
def phi(p, sat):
    return where(p < 0.0, 0.0, p)


@jitable
def dphi(p, sat):
    return where(p > 0.0, 1.0, 0.0)
