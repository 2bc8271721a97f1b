"""Fig. 2C — latent trajectories as the width grows, ReLU (panels up to k = 200)."""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="fig2c",
    title="Fig 2C: PC1-PC2 latent curves vs width (ReLU, 1 layer, k up to 200)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["relu"], "depth": [1],
          "width": [10, 25, 50, 100, 150, 200]},
    samples=100,
    draw=latent("fig2c", "width", "k =", title="Fig 2C (ReLU, vs width)", logx=True),
    quick_grid={"width": [5, 10]},
)
