"""Explicit Euler (fixed step)."""

from ..tableau import Tableau, array

TABLEAU = Tableau(name="euler", C=array([0]), A=array([[0]]), B=array([1]), order=1)
