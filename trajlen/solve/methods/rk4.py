"""The classical fourth-order Runge–Kutta method (fixed step)."""

from ..tableau import Tableau, array

TABLEAU = Tableau(
    name="rk4",
    C=array([0, 1 / 2, 1 / 2, 1]),
    A=array([[0, 0, 0, 0],
             [1 / 2, 0, 0, 0],
             [0, 1 / 2, 0, 0],
             [0, 0, 1, 0]]),
    B=array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
    order=4,
)
