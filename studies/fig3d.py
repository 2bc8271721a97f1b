"""Fig. 3D — trajectory length vs layer, sigmoid (the layers of 6-layer networks)."""

from trajlen.study import Study

from ._draw import boxes

STUDY = Study(
    name="fig3d",
    title="Fig 3D: trajectory length per layer of 6-layer sigmoid networks (k=100)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["sigmoid"], "depth": [6]},
    samples=100,
    draw=boxes("fig3d", "layer", "layer", per_layer=True, numeric=True,
               title="Fig 3D: length per layer (sigmoid)"),
    quick_samples=1,
    quick_grid={"width": [10], "depth": [3]},
    notes="Layer d's length is measured on layer d of a 6-layer network, as the original code "
          "measures every layer of one n-layer network.",
)
