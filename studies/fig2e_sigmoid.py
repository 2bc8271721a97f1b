"""Fig. 2E as its caption reads — latent trajectories in the layers of a logistic-sigmoid network.

The caption names logistic-sigmoid but no depth; 3 layers are drawn. The panel itself is tanh with 5
layers: :mod:`studies.fig2e`.
"""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="fig2e_sigmoid",
    title="Fig 2E (the caption): PC1-PC2 latent curves per layer, sigmoid, 3 layers, k=100",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["sigmoid"], "width": [100], "depth": [3]},
    samples=100,
    draw=latent("fig2e_sigmoid", "layer", "layer", per_layer=True,
                title="Fig 2E, the caption (sigmoid, per layer)"),
    quick_samples=1,
    quick_grid={"width": [10], "depth": [2]},
    notes="The caption's reading of Fig 2E (it gives no depth; 3 layers are drawn); the panel "
          "(tanh, 5 layers) is fig2e.",
)
