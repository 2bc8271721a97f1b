"""Pipeline stage 3 (solver: the method axis) — the Runge–Kutta methods, one file each, as tableaus.

Adding a Runge–Kutta pair: its tableau file here and one line in
:data:`trajlen.solve.registry.METHODS`; the tests enrol every registered method.
"""
