"""Pipeline stage 5 — measures: PCA projection, arc length, computational depth (SPEC §2)."""

from __future__ import annotations

import numpy as np

__all__ = ["pca_project", "arc_length", "computational_depth", "steps_per_interval",
           "layer_measures", "full_space_lengths", "trajectory_measures", "LAYER_COLUMNS", "ROW_LISTS"]


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


def computational_depth(n_accepted: int, refine: int, n_samples: int) -> float:
    """Computational depth L as the authors' ``main.m`` counts it (SPEC §2; paper Table 2): the
    solver's output points in ``(0, 2π]`` — ``refine`` per accepted step (MATLAB ``Refine``; 1 under
    the paper semantics) — averaged over an array of ``n_samples`` entries whose last entry is always
    0, i.e. ``L = refine · n_accepted / n_samples``.

    A count of the solver's *steps*: the points a length is measured on (``output``: steps, refine
    or a uniform grid) never change it. After a transient T, ``n_accepted`` is the accepted steps
    that end in the measured period ``(T, T + 2π]`` (:attr:`trajlen.trajectory.Trajectory.n_measured`):
    L is then the steady orbit's Refine points per input interval, comparable with Table 2's.
    """
    return refine * n_accepted / n_samples


def steps_per_interval(n_accepted: int, n_samples: int) -> float:
    """Accepted solver steps per input interval (the paper's wording of L): ``n_accepted /
    (n_samples − 1)``."""
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


#: per-layer measures (one entry per layer) → the name of their last-layer value in a row; the rows
#: keep the lists of the first four (``lengths``, …) and the last-layer value of all
LAYER_COLUMNS = {"lengths": "length", "lengths_full": "length_full", "var_pc1_layers": "var_pc1",
                 "var_pc2_layers": "var_pc2", "z_norms": "z_norm", "z_norms_code": "z_norm_code"}
ROW_LISTS = ("lengths", "lengths_full", "var_pc1_layers", "var_pc2_layers")


def trajectory_measures(traj, width: int, depth: int) -> dict[str, list[float]]:
    """Per layer of a solved trajectory (SPEC §2): the PCA length and the variance PC1, PC2 explain,
    the full-space length (the chord length of the k-dimensional states, no PCA), and the norms of
    the PC scores the bounds use: the mean over output points of ‖z‖ (Theorem 5's ‖z^(d)‖) and the
    authors' ``norm((z1 + z2)/2)``. Lists of ``depth`` entries; NaN for a failed solve."""
    out: dict[str, list[float]] = {k: [] for k in LAYER_COLUMNS}
    for layer in range(depth):
        if not traj.ok:
            for k in out:
                out[k].append(float("nan"))
            continue
        states = traj.layer(layer, width)
        z, ratio = pca_project(states)
        out["lengths"].append(arc_length(z))
        out["lengths_full"].append(arc_length(states))
        out["var_pc1_layers"].append(float(ratio[0]))
        out["var_pc2_layers"].append(float(ratio[1]))
        out["z_norms"].append(float(np.mean(np.linalg.norm(z, axis=1))))
        out["z_norms_code"].append(float(np.linalg.norm((z[:, 0] + z[:, 1]) / 2.0)))
    return out
