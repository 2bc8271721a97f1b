"""Fig. 2B — latent trajectories as the weight scale σ_w² grows."""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="fig2b",
    title="Fig 2B: PC1-PC2 latent curves vs weight scale sigma_w2 (tanh, k=100, 1 layer)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["tanh"], "sigma_w2": [1.0, 2.0, 4.0, 8.0]},
    samples=100,
    draw=latent("fig2b", "sigma_w2", "σ_w² ="),
    quick_grid={"width": [10], "sigma_w2": [1.0, 8.0]},
    notes="The paper does not name Fig 2B's activation; tanh is used.",
)
