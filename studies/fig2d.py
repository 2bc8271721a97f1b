"""Fig. 2D — latent trajectories as the width grows, hard-tanh."""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="fig2d",
    title="Fig 2D: PC1-PC2 latent curves vs width (hard-tanh, 1 layer)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["hardtanh"], "width": [10, 25, 50, 100]},
    samples=100,
    draw=latent("fig2d", "width", "k ="),
    quick_grid={"width": [5, 10]},
)
