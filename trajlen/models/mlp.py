"""Static deep network (Raghu et al. 2017; paper Fig. 1): ``z^(d+1) = φ(z^(d) W_d + b_d)``.

Same parameters and initialisation as the continuous-time models; layer 1 reads the 2-D input through
``W[0, :2, :]``. There is no time integration: the measure sees the layers' values at the input points.
"""

from __future__ import annotations

import numpy as np

from ..activations import activation
from ..params import Params
from ..spec import NetworkSpec


def forward(net: NetworkSpec, params: Params, inputs: np.ndarray) -> np.ndarray:
    """Layer values for input points ``inputs`` of shape ``(T, 2)``; returns ``(T, depth, width)``."""
    phi = activation(net.phi)
    out = []
    u = inputs
    for layer in range(params.depth):
        W = params.W[layer, :2, :] if layer == 0 else params.W[layer]
        u = phi(u @ W + params.b[layer])
        out.append(u)
    return np.stack(out, axis=1)
