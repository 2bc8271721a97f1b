"""Fig. 3B — trajectory length vs width, with the PCA variance explained underneath."""

from trajlen.study import Study

from ._draw import boxes

STUDY = Study(
    name="fig3b",
    title="Fig 3B: trajectory length vs width k, and variance explained by PC1, PC2 (tanh, 1 layer)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["tanh"],
          "width": [10, 25, 50, 100, 150, 200]},
    samples=100,
    draw=boxes("fig3b", "width", "width k", explained=True, numeric=True, logx=True,
               title="Fig 3B: length vs width k, and the variance PC1, PC2 explain"),
    quick_grid={"width": [5, 10]},
    notes="The paper does not name Fig 3B's activation; tanh is used.",
)
