"""Fig. 2A — latent trajectories in the layers of a deep network with hard-tanh activations."""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="fig2a",
    title="Fig 2A: PC1-PC2 latent curves per layer, hard-tanh, 3 layers, k=100",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["hardtanh"], "width": [100], "depth": [3]},
    samples=100,
    draw=latent("fig2a", "layer", "layer", per_layer=True, title="Fig 2A (hard-tanh, per layer)"),
    quick_samples=1,
    quick_grid={"width": [10], "depth": [2]},
    notes="The paper does not give the depth of Fig 2A; 3 layers are drawn (sample 0, the same random "
          "network for all three models). Under the reference semantics hard-tanh is MATLAB's Htanh "
          "(the identity unless every unit saturates on the same side).",
)
