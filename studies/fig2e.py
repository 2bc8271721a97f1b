"""Fig. 2E as its panel shows it — latent trajectories in the layers of a 5-layer tanh network.

The caption says logistic-sigmoid; the panel is tanh with 5 layers (SPEC §5). The caption's reading
is :mod:`studies.fig2e_sigmoid` (3 layers); Fig 3D is the sigmoid depth study.
"""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="fig2e",
    title="Fig 2E (the panel): PC1-PC2 latent curves per layer, tanh, 5 layers, k=100",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["tanh"], "width": [100], "depth": [5]},
    samples=100,
    draw=latent("fig2e", "layer", "layer", per_layer=True, title="Fig 2E, the panel (tanh, per layer)"),
    quick_samples=1,
    quick_grid={"width": [10], "depth": [2]},
    notes="The panel's configuration (tanh, 5 layers); the caption's (logistic-sigmoid) is "
          "fig2e_sigmoid.",
)
