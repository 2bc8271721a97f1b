"""Observation IV for tanh — no growth of the length with depth (up to 6 layers).

Section 5 claims that the length does not grow with depth for tanh and sigmoid networks
(observation IV). Fig 3D measures sigmoid; this study measures every layer of 6-layer tanh networks,
k = 100, the same way; the per-layer factors with their intervals are in
``obs4_tanh_<semantics>_growth.csv``.
"""

from trajlen.study import Study

from ._draw import boxes

STUDY = Study(
    name="obs4_tanh",
    title="Observation IV (tanh): trajectory length per layer of 6-layer tanh networks (k=100)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["tanh"], "width": [100], "depth": [6]},
    samples=100,
    draw=boxes("obs4_tanh", "layer", "layer", per_layer=True, numeric=True,
               title="Observation IV (tanh): length per layer"),
    quick_samples=1,
    quick_grid={"width": [10], "depth": [3]},
    notes="Not a figure of the paper; Fig 2E's panel (tanh, 5 layers) shows the same claim.",
)
