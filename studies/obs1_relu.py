"""Observation I for ReLU — does the length of N-ODEs and CT-RNNs grow exponentially with depth?

Section 5 claims exponential growth with depth for hard-tanh *and* ReLU (observation I) and slower
growth for the LTC (II), but shows only hard-tanh (Fig 2A). This study measures every layer of
4-layer ReLU networks, k = 100 (as Fig 3D measures the layers of one deep network); the per-layer
factors with their intervals are in ``obs1_relu_<semantics>_growth.csv``.
"""

from trajlen.study import Study

from ._draw import boxes

STUDY = Study(
    name="obs1_relu",
    title="Observation I (ReLU): trajectory length per layer of 4-layer ReLU networks (k=100)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["relu"], "width": [100], "depth": [4]},
    samples=100,
    draw=boxes("obs1_relu", "layer", "layer", per_layer=True, numeric=True,
               title="Observation I (ReLU): length per layer"),
    quick_samples=1,
    quick_grid={"width": [10], "depth": [2]},
    notes="Not a figure of the paper: observation I names ReLU without showing it.",
)
