"""Fig. 2B — latent trajectories as the weight scale σ_w² grows (hard-tanh, as the panels show)."""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="fig2b",
    title="Fig 2B: PC1-PC2 latent curves vs weight scale sigma_w2 (hard-tanh, k=100, 1 layer)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["hardtanh"], "width": [100],
          "depth": [1], "sigma_w2": [1.0, 2.0, 4.0, 8.0]},
    samples=100,
    draw=latent("fig2b", "sigma_w2", "σ_w² =", title="Fig 2B (hard-tanh, vs σ_w²)", logx=True),
    quick_grid={"width": [10], "sigma_w2": [1.0, 8.0]},
    notes="The caption does not name Fig 2B's activation; its panels are hard-tanh (SPEC §5). The "
          "same sweep with tanh is Fig 3C's (figures/fig3c, σ_w² 1-32, the same networks at 1-8).",
)
