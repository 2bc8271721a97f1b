"""Pipeline stage 5 — measures: PCA projection, arc length, computational depth (SPEC §2)."""

from __future__ import annotations

import numpy as np

__all__ = ["pca_project", "arc_length", "computational_depth", "steps_per_interval",
           "layer_measures", "full_space_lengths"]


def pca_project(states: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Centred PCA of a layer's states.

    Parameters
    ----------
    states : (T, k) array, one row per output point.

    Returns
    -------
    z : (T, n_components) component scores (the latent trajectory).
    explained : (n_components,) fraction of variance explained by each component (0–1; NaN when
        the states do not vary at all, e.g. a layer that never leaves 0).
    """
    states = np.asarray(states, dtype=np.float64)
    T, k = states.shape
    centred = states - states.mean(axis=0)
    if T < 2 or not np.any(centred):
        return np.zeros((T, n_components)), np.full(n_components, np.nan)
    m = min(n_components, T, k)
    # Imported here: scikit-learn costs seconds to import, which every fresh sweep worker would pay
    # even for static networks or failed solves that never project anything.
    from sklearn.decomposition import PCA

    # Eigendecomposition of the k×k covariance rather than an SVD of the T×k states: with T in the
    # thousands (refine or grid points) it is 4–5× faster (19 → 4 ms at T = 2001, k = 100, one thread),
    # and the length of the two leading components agrees with the SVD's to 1e-14 on the benchmark
    # networks — once the ODE solve is compiled, the PCA was the pipeline's largest cost.
    pca = PCA(n_components=m, svd_solver="covariance_eigh")
    z = pca.fit_transform(states)
    ratio = pca.explained_variance_ratio_
    if m < n_components:
        z = np.hstack([z, np.zeros((T, n_components - m))])
        ratio = np.concatenate([ratio, np.zeros(n_components - m)])
    return z, ratio


def arc_length(z: np.ndarray) -> float:
    """Chord length ``Σ ‖z[i+1] − z[i]‖`` of a curve ``z`` of shape ``(T, d)`` (MATLAB ``arclength``,
    linear method). For ``linspace(0, 2π, 100)`` on the unit circle this is 6.282131."""
    z = np.asarray(z, dtype=np.float64)
    if len(z) < 2:
        return 0.0
    return float(np.sum(np.linalg.norm(np.diff(z, axis=0), axis=1)))


def computational_depth(t: np.ndarray, n_samples: int, t_end: float) -> float:
    """Computational depth L as the authors' code computes it (SPEC §2; paper Table 2).

    For each input interval ``(t_l, t_{l+1}]`` the number of solver output points ``t`` in it,
    averaged over an array of ``n_samples`` entries whose last entry is always 0, i.e.
    ``L = #{t ∈ (0, t_end]} / n_samples``. ``t`` are the output points the measure saw (with
    ``Refine = 4``, four per accepted step).
    """
    t = np.asarray(t)
    return float(np.count_nonzero((t > 0) & (t <= t_end)) / n_samples)


def steps_per_interval(n_accepted: int, n_samples: int) -> float:
    """Plain accepted solver steps per input interval: ``n_accepted / (n_samples − 1)``."""
    return n_accepted / (n_samples - 1)


def layer_measures(states: np.ndarray) -> dict[str, float]:
    """Length and variance explained of one layer's ``(T, k)`` states."""
    z, ratio = pca_project(states)
    return {"length": arc_length(z), "var_pc1": float(ratio[0]), "var_pc2": float(ratio[1])}


def full_space_lengths(x: np.ndarray, depth: int, width: int) -> np.ndarray:
    """Arc length of each layer's states in the full k-dimensional space (no PCA).

    ``x`` is ``(T, depth·width)`` (layers stacked, as in :class:`~trajlen.trajectory.Trajectory`) or
    ``(T, depth, width)``; returns ``(depth,)``. The PCA-projected length of SPEC §2 is never longer.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), depth, width)
    return np.array([arc_length(x[:, layer]) for layer in range(depth)])
