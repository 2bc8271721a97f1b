"""Bogacki–Shampine 3(2): scipy ``RK23``, MATLAB ``ode23`` (scipy 1.17's coefficients exactly)."""

from ..tableau import Tableau, array

TABLEAU = Tableau(
    name="RK23",
    C=array([0, 1 / 2, 3 / 4]),
    A=array([[0, 0, 0],
             [1 / 2, 0, 0],
             [0, 3 / 4, 0]]),
    B=array([2 / 9, 1 / 3, 4 / 9]),
    order=3,
    E=array([5 / 72, -1 / 12, -1 / 9, 1 / 8]),
    error_order=2,
    P=array([[1, -4 / 3, 5 / 9],
             [0, 1, -2 / 3],
             [0, 4 / 3, -8 / 9],
             [0, -1, 1]]),
    # ntrp23.m's BI: the same cubic Hermite interpolant
    P_matlab=array([[1, -4 / 3, 5 / 9],
                    [0, 1, -2 / 3],
                    [0, 4 / 3, -8 / 9],
                    [0, -1, 1]]),
    matlab_shrink_floor=0.5,
)
