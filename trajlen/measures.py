"""Pipeline stage 5 — measures: PCA projection, arc length, computational depth (SPEC §2)."""

from __future__ import annotations

import numpy as np

__all__ = ["pca_project", "pca_basis", "project", "arc_length", "computational_depth", "steps_per_interval",
           "layer_measures", "full_space_lengths", "trajectory_measures", "LAYER_COLUMNS", "ROW_LISTS"]


def _blocks(states) -> list[np.ndarray]:
    """A layer's states as a list of ``(T_b, k)`` row blocks (a single array is one block)."""
    if isinstance(states, (list, tuple)):
        return [np.asarray(b, dtype=np.float64) for b in states if len(b)]
    return [np.asarray(states, dtype=np.float64)]


def _column_mean(blocks: list[np.ndarray], T: int) -> np.ndarray:
    """``mean(X, axis=0)`` of the stacked blocks, summed row after row as numpy sums the whole
    array (each later block is reduced together with the running sum)."""
    acc = np.add.reduce(blocks[0], axis=0)
    for b in blocks[1:]:
        acc = np.add.reduce(np.concatenate([acc[None], b]), axis=0)
    return acc / T


def pca_project(states, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Centred PCA of a layer's states: the projection on the leading principal components.

    Parameters
    ----------
    states : (T, k) array, one row per output point — or a list of ``(T_b, k)`` row blocks in time
        order (how the compiled kernel hands its output over: the blocks are never joined).

    Returns
    -------
    z : (T, n_components) component scores (the latent trajectory).
    explained : (n_components,) fraction of variance explained by each component (0–1; NaN when
        the states do not vary at all, e.g. a layer that never leaves 0).

    Notes
    -----
    The eigendecomposition of the k × k covariance, computed as scikit-learn's
    ``PCA(svd_solver="covariance_eigh")`` computes it (the Gram matrix of the uncentred states minus
    T·μμᵀ, ``eigh``, eigenvalues clipped at 0, each component's sign fixed by its largest entry,
    scores ``X V − μ V``), and bit-identical to it for one block (tested) — written here rather than
    called because it runs over the blocks: scikit-learn needs the (T, k) states as one array and
    copies them, which for the largest solves (10⁵ steps × Refine 4 × 600 states) doubled the
    memory a network needs. With several blocks the Gram matrix is summed block by block (other
    rounding, ~1e-15 relative; tested against scikit-learn). 4–5× faster than an SVD of the states
    at T = 2001, k = 100, the two leading components' length equal to the SVD's to 1e-14.
    """
    blocks = _blocks(states)
    T = sum(len(b) for b in blocks)
    basis = _fit(blocks, T, n_components)
    if basis is None:
        return np.zeros((T, n_components)), np.full(n_components, np.nan)
    mean, V, ratio = basis
    z = project(blocks, mean, V)
    m = V.shape[0]
    if m < n_components:
        z = np.hstack([z, np.zeros((T, n_components - m))])
        ratio = np.concatenate([ratio, np.zeros(n_components - m)])
    return z, ratio


def _fit(blocks: list[np.ndarray], T: int, n_components: int):
    """``(mean (k,), V (m, k), explained (m,))`` of the stacked blocks, or None for fewer than two
    points or states that never vary."""
    k = blocks[0].shape[1] if blocks else 0
    if T < 2 or k == 0:
        return None
    mean = _column_mean(blocks, T)
    if not any(np.any(b != mean) for b in blocks):
        return None
    C = blocks[0].T @ blocks[0]
    for b in blocks[1:]:
        C += b.T @ b
    C -= T * mean.reshape(-1, 1) * mean.reshape(1, -1)
    C /= T - 1
    evals, evecs = np.linalg.eigh(C)
    evals, evecs = np.flip(evals, axis=0), np.flip(evecs, axis=1)
    evals[evals < 0.0] = 0.0
    Vt = evecs.T
    Vt *= np.sign(Vt[np.arange(Vt.shape[0]), np.argmax(np.abs(Vt), axis=1)])[:, None]
    m = min(n_components, T, k)
    V = np.asfortranarray(Vt[:m])   # the layout scikit-learn holds it in: the same GEMM, the same bits
    return mean, V, (evals / np.sum(evals))[:m]


def pca_basis(states, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``(mean (k,), V (n_components, k))``: the principal plane of ``states`` (as
    :func:`pca_project` fits it), to project other points on with :func:`project`."""
    blocks = _blocks(states)
    basis = _fit(blocks, sum(len(b) for b in blocks), n_components)
    if basis is None:
        raise ValueError("the states do not vary: no principal plane")
    return basis[0], basis[1]


def project(states, mean: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Scores ``X Vᵀ − μ Vᵀ`` of ``states`` (an array or row blocks) on the basis ``(mean, V)``."""
    blocks = _blocks(states)
    z = np.concatenate([b @ V.T for b in blocks]) if len(blocks) > 1 else blocks[0] @ V.T
    z -= mean.reshape(1, -1) @ V.T
    return z


def arc_length(z) -> float:
    """Chord length ``Σ ‖z[i+1] − z[i]‖`` of a curve ``z`` of shape ``(T, d)`` (MATLAB ``arclength``,
    linear method), or of a list of row blocks in order. For ``linspace(0, 2π, 100)`` on the unit
    circle this is 6.282131."""
    blocks = _blocks(z)
    if sum(len(b) for b in blocks) < 2:
        return 0.0
    if len(blocks) == 1:
        return float(np.sum(np.linalg.norm(np.diff(blocks[0], axis=0), axis=1)))
    parts = []
    for i, b in enumerate(blocks):   # the chords within each block, and the one into it
        if i:
            parts.append(np.linalg.norm(b[:1] - blocks[i - 1][-1:], axis=1))
        parts.append(np.linalg.norm(np.diff(b, axis=0), axis=1))
    return float(np.sum(np.concatenate(parts)))


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


#: A layer's states in blocks are joined into one array for the measures up to this size (the same
#: arithmetic, to the bit, as an array from any backend); beyond it they are measured block by block,
#: so that a solve needs its output once, not its output and a layer's copy.
JOIN_BYTES = 64 * 2 ** 20


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
        states = traj.layer_blocks(layer, width)
        if len(states) > 1 and sum(b.nbytes for b in states) <= JOIN_BYTES:
            states = np.concatenate(states)
        z, ratio = pca_project(states)
        out["lengths"].append(arc_length(z))
        out["lengths_full"].append(arc_length(states))
        out["var_pc1_layers"].append(float(ratio[0]))
        out["var_pc2_layers"].append(float(ratio[1]))
        out["z_norms"].append(float(np.mean(np.linalg.norm(z, axis=1))))
        out["z_norms_code"].append(float(np.linalg.norm((z[:, 0] + z[:, 1]) / 2.0)))
    return out
