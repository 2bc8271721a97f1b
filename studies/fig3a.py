"""Fig. 3A — trajectory length vs ODE solver (ReLU, k = 100, 1 layer).

The paper's MATLAB solvers map to scipy's: RK2(3) Bogacki–Shampine (ode23) → RK23; RK4(5)
Dormand–Prince (ode45) → RK45; ABM1(13) Adams–Bashforth–Moulton (ode113) → LSODA (Adams, switching to
BDF when stiff); TR-BDF2 (ode23tb) → BDF (variable-order BDF; scipy has no TR-BDF2).
"""

from trajlen.study import Study

from ._draw import boxes

STUDY = Study(
    name="fig3a",
    title="Fig 3A: trajectory length vs solver (ReLU, k=100, 1 layer)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["relu"], "backend": ["scipy"],
          "method": ["RK23", "RK45", "LSODA", "BDF"]},
    samples=100,
    draw=boxes("fig3a", "method", "solver (scipy; ode23→RK23, ode45→RK45, ode113→LSODA, ode23tb→BDF)",
               title="Fig 3A: length vs ODE solver"),
    quick_samples=1,
    quick_grid={"width": [10]},
    notes="scipy backend: MATLAB's ode113/ode23tb have no torch counterpart. Output points: the "
          "semantics' (reference: steps + Refine 4 interpolated points; paper: steps).",
)
