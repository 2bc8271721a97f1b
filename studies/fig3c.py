"""Fig. 3C — trajectory length vs weight scale σ_w² (and the supplement's extension to 32)."""

from trajlen.study import Study

from ._draw import boxes

STUDY = Study(
    name="fig3c",
    title="Fig 3C: trajectory length vs sigma_w2 in {1, 2, 4, 8, 16, 32} (tanh, k=100, 1 layer)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["tanh"],
          "sigma_w2": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]},
    samples=100,
    draw=boxes("fig3c", "sigma_w2", "σ_w² (paper: the variance; reference: the std)",
               numeric=True, logx=True, title="Fig 3C: length vs weight scale σ_w²"),
    quick_grid={"width": [10], "sigma_w2": [1.0, 32.0]},
    notes="The paper does not name Fig 3C's activation; tanh is used. 16 and 32 are the supplement's.",
)
