"""Fig. 2C — latent trajectories as the width grows, ReLU."""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="fig2c",
    title="Fig 2C: PC1-PC2 latent curves vs width (ReLU, 1 layer)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["relu"], "width": [10, 25, 50, 100]},
    samples=100,
    draw=latent("fig2c", "width", "k ="),
    quick_grid={"width": [5, 10]},
)
