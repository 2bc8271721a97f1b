"""The state a compiled solve carries between kernel calls, and the output it writes as it goes.

A solve runs as a sequence of kernel calls. Each call continues from the state below until the solve
ends, fails, asks to switch method (stiffness detected / handed back) or fills its output block; the
Python side then stores the block and calls again with a fresh one. So a solve holds its output plus
O(1) per step, whatever the number of steps (no doubling arrays, no copies of per-step records), and
a wall-time limit can be checked between calls.

Float state ``sf`` and integer state ``si`` are small arrays indexed by the constants here (numba
compiles module-level integers as constants). The output of one call is the tuple
``(mode, refine, ot, ox, ost, gt, gx)``: ``mode`` 0 steps, 1 refine, 2 grid; ``ot (M,), ox (M, N)``
the block of output points (steps, refine); ``ost (M,)`` the block of accepted step times; ``gt, gx``
the whole output grid (grid), written in place.
"""

from __future__ import annotations

__all__ = ["T", "H_ABS", "FAIL_T", "H_REF", "T_SWITCH", "T_WINDOW", "N_ACC", "N_REJ", "NFEV", "NJEV",
           "STIFF_HITS", "NONSTIFF_HITS", "N_OUT", "N_STEP", "N_GRID", "IN_WINDOW", "WARMED",
           "N_FLOAT", "N_INT", "PAUSE", "STIFF", "HANDBACK", "MODE_STEPS", "MODE_REFINE", "MODE_GRID"]

# float state
T, H_ABS, FAIL_T, H_REF, T_SWITCH, T_WINDOW = 0, 1, 2, 3, 4, 5
N_FLOAT = 6
# integer state
N_ACC, N_REJ, NFEV, NJEV, STIFF_HITS, NONSTIFF_HITS, N_OUT, N_STEP, N_GRID, IN_WINDOW, WARMED = range(11)
N_INT = 11

#: what a kernel call returns besides the status codes of trajlen.solve.result (OK … BUDGET)
PAUSE, STIFF, HANDBACK = 10, 11, 12

MODE_STEPS, MODE_REFINE, MODE_GRID = 0, 1, 2
