"""Fig. 2E — latent trajectories in the layers of a deep network with logistic-sigmoid activations."""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="fig2e",
    title="Fig 2E: PC1-PC2 latent curves per layer, sigmoid, 3 layers, k=100",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["sigmoid"], "width": [100], "depth": [3]},
    samples=100,
    draw=latent("fig2e", "layer", "layer", per_layer=True),
    quick_samples=1,
    quick_grid={"width": [10], "depth": [2]},
    notes="The paper does not give the depth of Fig 2E; 3 layers are drawn.",
)
