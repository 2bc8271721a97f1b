"""Pipeline stage 8 (bounds) — Theorems 4–5 of the paper, the authors' commented code variants, and Raghu
et al. 2017's static-network bound, as pure functions of numbers (numpy arrays broadcast). See
:mod:`trajlen.bounds` for how σ_w, σ_b relate to the spec fields."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .columns import evaluate_bound

__all__ = ["beta", "thm4_node", "thm4_ctrnn", "thm5_ltc", "code_node", "code_ctrnn", "code_ltc",
           "raghu_hardtanh", "raghu_relu", "Bound", "BOUNDS", "AUTO_BOUNDS", "CODE_L_INPUT"]

CODE_L_INPUT = 6.2821  #: the constant the authors' commented bound multiplies by (≈ l(I) of 100 points)


def _a(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _pow(base, expo) -> np.ndarray:
    """``base**expo`` elementwise; a negative base (a vacuous bound) gives NaN, overflow gives inf."""
    base, expo = _a(base), _a(expo)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return np.where(base >= 0, np.abs(base) ** expo, np.nan)


def _den(k, sigma_w, sigma_b) -> np.ndarray:
    s2 = _a(sigma_w) ** 2 + _a(sigma_b) ** 2
    return np.sqrt(s2 + _a(k) * np.sqrt(s2))


def beta(k, sigma_w, sigma_b) -> np.ndarray:
    """Base of Theorems 4–5 and of Raghu et al.'s hard-tanh bound,
    ``β = σ_w √k / sqrt(σ_w² + σ_b² + k sqrt(σ_w² + σ_b²))``.

    Parameters
    ----------
    k : width; sigma_w, sigma_b : standard deviations of the ``N(0, σ_w²/k)``, ``N(0, σ_b²)`` draws.
    """
    return _a(sigma_w) * np.sqrt(_a(k)) / _den(k, sigma_w, sigma_b)


def thm4_node(k, sigma_w, sigma_b, depth, L, l_input):
    """Theorem 4, paper **Eq. 7** (Neural ODE): ``β^{d·L} · l(I)``.

    Parameters
    ----------
    k, sigma_w, sigma_b : see :func:`beta`.
    depth : d, the layer whose length is bounded (the last layer of a depth-d network).
    L : measured computational depth (SPEC §2).
    l_input : l(I), the input trajectory's length.
    """
    return _pow(beta(k, sigma_w, sigma_b), _a(depth) * _a(L)) * _a(l_input)


def thm4_ctrnn(k, sigma_w, sigma_b, depth, L, l_input):
    """Theorem 4, paper **Eq. 8** (CT-RNN): ``((σ_w − σ_b)√k / sqrt(σ_w²+σ_b²+k sqrt(σ_w²+σ_b²)))^{d·L}
    · l(I)``. For σ_w < σ_b the base is negative and the bound undefined: NaN."""
    base = (_a(sigma_w) - _a(sigma_b)) * np.sqrt(_a(k)) / _den(k, sigma_w, sigma_b)
    return _pow(base, _a(depth) * _a(L)) * _a(l_input)


def thm5_ltc(k, sigma_w, sigma_b, depth, L, z_norm, dt, l_input):
    """Theorem 5, paper **Eq. 9** (LTC): ``β^{d·L} · (σ_w + ‖z^{(d)}‖ / min(δt, L)) · l(I)``.

    Parameters
    ----------
    z_norm : ‖z^{(d)}‖, read as the mean over output points of the 2-norm of the last layer's two PC
        scores (the paper does not say which norm of the trajectory is meant).
    dt : δt, the input step ``2π/(n_samples − 1)``.
    Others : see :func:`thm4_node`.
    """
    tail = _a(sigma_w) + _a(z_norm) / np.minimum(_a(dt), _a(L))
    return _pow(beta(k, sigma_w, sigma_b), _a(depth) * _a(L)) * tail * _a(l_input)


def _code_base(k, s, sb, numerator):
    return np.sqrt(_a(k) * numerator) / np.sqrt(_a(s) + _a(sb) + _a(k) * np.sqrt(_a(s) + _a(sb)))


def code_node(k, sigma_w2, sigma_b2, depth, L):
    """The authors' commented ``lower_bound_node`` (``main.m``; variant of **Eq. 7**)::

        ((sqrt(k*sigma)) / sqrt(sigma + sigma_b + k*sqrt(sigma + sigma_b)))^(n*L) * 6.2821

    with ``sigma = sigma_w2`` and ``sigma_b = sigma_b2`` (the figure labels, as the code plugs them in)
    and ``n = depth``. With σ_w² = sigma_w2, σ_b² = sigma_b2 this is Eq. 7 with l(I) = 6.2821.
    """
    return _pow(_code_base(k, sigma_w2, sigma_b2, _a(sigma_w2)), _a(depth) * _a(L)) * CODE_L_INPUT


def code_ctrnn(k, sigma_w2, sigma_b2, depth, L):
    """The authors' commented ``lower_bound_ctrnn`` (variant of **Eq. 8**): identical to
    :func:`code_node` — the code's numerator is ``sqrt(sqrt(1)*k*sigma)``, i.e. σ_w, not σ_w − σ_b."""
    return code_node(k, sigma_w2, sigma_b2, depth, L)


def code_ltc(k, sigma_w2, sigma_b2, depth, L, z_norm_code, n_samples):
    """The authors' commented ``lower_bound_ltc`` (variant of **Eq. 9**)::

        ((sqrt(k*(sigma - sigma_b))) / sqrt(sigma + sigma_b + k*sqrt(sigma + sigma_b)))^n
            * |sigma + min(1/L, 1/steps) * norm((z1 + z2)/2)| * 6.2821

    ``sigma = sigma_w2``, ``sigma_b = sigma_b2`` (labels), ``n = depth`` (exponent n, *not* n·L),
    ``steps = n_samples`` (100), ``norm((z1+z2)/2) = z_norm_code`` (2-norm over all output points).
    For sigma_w2 < sigma_b2 the square root is imaginary in MATLAB; here NaN.
    """
    with np.errstate(invalid="ignore"):
        base = _code_base(k, sigma_w2, sigma_b2, _a(sigma_w2) - _a(sigma_b2))
    tail = np.abs(_a(sigma_w2) + np.minimum(1.0 / _a(L), 1.0 / _a(n_samples)) * _a(z_norm_code))
    return _pow(base, _a(depth)) * tail * CODE_L_INPUT


def raghu_hardtanh(k, sigma_w, sigma_b, depth, l_input):
    """Raghu et al. 2017, Theorem 1 (hard-tanh), static network ``z^{(d+1)} = φ(W z^{(d)} + b)``:
    ``E[l(z^{(d)})] ≥ O(β^d) l(I)`` — the base of the paper's **Eq. 7** with exponent d (no L)."""
    return _pow(beta(k, sigma_w, sigma_b), _a(depth)) * _a(l_input)


def raghu_relu(k, sigma_w, depth, l_input):
    """Raghu et al. 2017, Theorem 1 (ReLU): ``E[l(z^{(d)})] ≥ O((σ_w √k / √(k+1))^d) l(I)``."""
    return _pow(_a(sigma_w) * np.sqrt(_a(k)) / np.sqrt(_a(k) + 1.0), _a(depth)) * _a(l_input)


@dataclass(frozen=True)
class Bound:
    """A named bound: ``func``'s parameter names are column names of :func:`theorem_columns`."""

    name: str
    func: Callable[..., Any]
    equation: str
    variant: str  # "paper", "code", "static" or "user"

    @property
    def columns(self) -> tuple[str, ...]:
        if hasattr(self.func, "names"):   # a compiled Formula
            return self.func.names
        return tuple(inspect.signature(self.func).parameters)

    def __call__(self, cols: Mapping[str, Any]) -> np.ndarray:
        if hasattr(self.func, "names"):
            n = np.shape(next(iter(cols.values())))
            return np.broadcast_to(self.func(cols), n).astype(np.float64)
        return evaluate_bound(self.func, cols)


#: name → bound (the paper's equation number in each docstring).
BOUNDS: dict[str, Bound] = {b.name: b for b in (
    Bound("thm4_node", thm4_node, "paper Eq. 7 (Theorem 4, Neural ODE)", "paper"),
    Bound("thm4_ctrnn", thm4_ctrnn, "paper Eq. 8 (Theorem 4, CT-RNN)", "paper"),
    Bound("thm5_ltc", thm5_ltc, "paper Eq. 9 (Theorem 5, LTC)", "paper"),
    Bound("code_node", code_node, "authors' code, variant of Eq. 7", "code"),
    Bound("code_ctrnn", code_ctrnn, "authors' code, variant of Eq. 8", "code"),
    Bound("code_ltc", code_ltc, "authors' code, variant of Eq. 9", "code"),
    Bound("raghu_hardtanh", raghu_hardtanh, "Raghu et al. 2017 Thm 1 (hard-tanh)", "static"),
    Bound("raghu_relu", raghu_relu, "Raghu et al. 2017 Thm 1 (ReLU)", "static"),
)}

#: ``--bound auto``: (variant, model) → bound name. Static networks use Raghu's bound in both variants.
AUTO_BOUNDS: dict[tuple[str, str], str] = {
    ("paper", "node"): "thm4_node", ("paper", "ctrnn"): "thm4_ctrnn", ("paper", "ltc"): "thm5_ltc",
    ("code", "node"): "code_node", ("code", "ctrnn"): "code_ctrnn", ("code", "ltc"): "code_ltc",
    ("paper", "mlp"): "raghu_hardtanh", ("code", "mlp"): "raghu_hardtanh",
}
