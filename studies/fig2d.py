"""Fig. 2D — latent trajectories as the width grows, hard-tanh (panels up to k = 200)."""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="fig2d",
    title="Fig 2D: PC1-PC2 latent curves vs width (hard-tanh, 1 layer, k up to 200)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["hardtanh"], "depth": [1],
          "width": [10, 25, 50, 100, 150, 200]},
    samples=100,
    draw=latent("fig2d", "width", "k =", title="Fig 2D (hard-tanh, vs width)", logx=True),
    quick_grid={"width": [5, 10]},
)
