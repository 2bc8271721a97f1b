"""Supplement — hard-tanh networks of 4 layers at k = 25: latent curves per layer."""

from trajlen.study import Study

from ._draw import latent

STUDY = Study(
    name="supp_htanh_k25",
    title="Supplement: PC1-PC2 latent curves per layer, hard-tanh, 4 layers, k=25",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["hardtanh"], "width": [25], "depth": [4]},
    samples=100,
    draw=latent("supp_htanh_k25", "layer", "layer", per_layer=True,
                title="Supplement (hard-tanh, k = 25, per layer)"),
    quick_samples=1,
    quick_grid={"width": [5], "depth": [2]},
)
