"""Pipeline stage 1 — parameters: draw a network's weights from a spec and a seed; save, load, export.

Parameters are always drawn with numpy in float64 from
``SeedSequence([root_seed, structure_key(width, depth), sample])``, so the same network is integrated
whatever backend, worker count, batch size or order runs it.

The key holds only what fixes the arrays' shapes (width, depth): the standard-normal draws are then
*shared* by every model, activation, σ and semantics at that shape, and a spec only scales them. This is
common random numbers on purpose — the N-ODE, CT-RNN and LTC of sample i are the same random network
(as in the authors' code, where one draw feeds all three models), and an ablation that switches one
semantic difference compares the same networks.

Array layout (the original MATLAB code's, batch axis absent): ``W[l]`` is ``(k, k)`` and a layer's
drive is ``u @ W[l]`` (``W[l][a, i]`` connects input a to unit i); layer 1's input matrix is
``W[0, :2, :]``, the first two rows of a k×k draw.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .spec import OWN_INIT, USER_MODELS, NetworkSpec, SpecError

__all__ = ["Params", "sample_params", "structure_key", "save_params", "load_params",
           "export_mat", "import_mat", "stack_params", "seed_rng", "to_ncps", "from_ncps",
           "DRAW_ORDER", "tau_min_drawn", "draws_to_tau"]


@dataclass(frozen=True)
class Params:
    """One network's parameters, already scaled, float64.

    Attributes (n = depth, k = width)
    ----------
    W : (n, k, k)   feed-forward/input weights; layer 1 uses rows ``0:2`` (MATLAB ``w_l``)
    b : (n, k)      biases of f (``b_l``)
    E : (n, k, k)   LTC reversal matrices; ``A = E.sum(axis=1)`` column sums (``E_l``)
    tau : (n, k)    time constants τ > 0 (``tau``, one per neuron over all layers)
    W_r : (n, k, k) recurrent weights (``w_l_r``)
    b_r : (n, k)    recurrent biases (``b_l_r``)
    E_r : (n, k, k) recurrent reversal matrices (``E_l_r``)
    A : (n, k)      the paper's LTC bias vector A (paper semantics, ``ltc_A="vector"``)
    """

    W: np.ndarray
    b: np.ndarray
    E: np.ndarray
    tau: np.ndarray
    W_r: np.ndarray
    b_r: np.ndarray
    E_r: np.ndarray
    A: np.ndarray

    @property
    def depth(self) -> int:
        return self.W.shape[0]

    @property
    def width(self) -> int:
        return self.W.shape[1]

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def spec_fields(self) -> dict:
        """The NetworkSpec fields these parameters fix (their shape)."""
        return {"width": self.width, "depth": self.depth}

    @property
    def tau_min(self) -> float:
        """The smallest time constant τ of the network (a row's ``tau_min``)."""
        return float(self.tau.min())

    def zero_recurrent(self) -> Params:
        """The same network with recurrent weights and biases zeroed (the authors' bound check)."""
        d = self.arrays()
        d.update(W_r=np.zeros_like(self.W_r), b_r=np.zeros_like(self.b_r),
                 E_r=np.zeros_like(self.E_r))
        return Params(**d)


def structure_key(width: int, depth: int) -> int:
    """A stable 32-bit integer for (width, depth); see the module docstring for why only these."""
    return zlib.crc32(f"width={width};depth={depth}".encode())


def seed_rng(seed: int, width: int, depth: int, sample: int) -> np.random.Generator:
    """The generator of network ``sample`` of shape (width, depth) under root ``seed``:
    ``default_rng(SeedSequence([seed, structure_key(width, depth), sample]))``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or sample < 0:
        raise SpecError(f"sample must be a non-negative integer, got {sample!r}")
    ss = np.random.SeedSequence([int(seed), structure_key(width, depth), int(sample)])
    return np.random.default_rng(ss)


#: The authors' ``main.m`` draw order: (name, per-layer shape "kk" (k, k) or "k" (k,)).
DRAW_ORDER = (("W", "kk"), ("b", "k"), ("E", "kk"), ("tau", "k"), ("W_r", "kk"), ("b_r", "k"),
              ("E_r", "kk"), ("A", "k"))


def _standard_draws(rng: np.random.Generator, n: int, k: int, until: str | None = None) -> dict:
    """The standard-normal arrays of :data:`DRAW_ORDER` for ``n`` layers of ``k`` units, stopping
    after ``until`` (the stream is the same up to there, so a prefix is bit-identical)."""
    z = {}
    for name, shape in DRAW_ORDER:
        z[name] = rng.standard_normal((n, k, k) if shape == "kk" else (n, k))
        if name == until:
            break
    return z


def draws_to_tau(width: int, depth: int) -> int:
    """Normals drawn up to and including τ in :data:`DRAW_ORDER`: what :func:`tau_min_drawn` costs."""
    per_layer = 0
    for name, shape in DRAW_ORDER:
        per_layer += width * width if shape == "kk" else width
        if name == "tau":
            return depth * per_layer
    raise AssertionError("DRAW_ORDER has no tau")


def _tau(z_tau: np.ndarray, bias_std: float) -> np.ndarray:
    """SPEC's time constants from their standard normals: ``τ = |N(0, bias_std²)|``."""
    return bias_std * np.abs(z_tau)


def tau_min_drawn(spec: NetworkSpec, seed: int, sample: int) -> float:
    """The smallest τ of the network :func:`sample_params` draws, found without drawing the weights
    after τ (bit-identical: the stream is the same up to there). Not for the models with an
    initialisation of their own (``spec.OWN_INIT``), whose draws are different."""
    if spec.model in OWN_INIT:
        raise ValueError(f"model {spec.model} draws its own parameters: no standard τ")
    z = _standard_draws(seed_rng(seed, spec.width, spec.depth, sample), spec.depth, spec.width,
                        until="tau")
    return float(_tau(z["tau"], spec.bias_std).min())


def sample_params(spec: NetworkSpec, seed: int, sample: int):
    """Draw sample ``sample`` of the networks with ``spec``'s shape under root seed ``seed``.

    Draw order follows the authors' ``main.m`` (w_l, b_l, E_l, tau, w_l_r, b_l_r, E_l_r), then A.
    Weights (W, E, W_r, E_r, A) have std :attr:`NetworkSpec.weight_std`; biases std
    :attr:`NetworkSpec.bias_std`; ``τ = |N(0, bias_std²)|``. A model with an initialisation of its own
    (``NetworkSpec.model`` in :data:`trajlen.spec.OWN_INIT`) draws it from the same generator
    (:func:`trajlen.models.ltc_ncps.sample`).
    """
    n, k = spec.depth, spec.width
    rng = seed_rng(seed, k, n, sample)
    if spec.model in USER_MODELS:
        raise SpecError(f"model {spec.model} is your own network (--module, trajlen.measure): it has no "
                        "random draw")
    if spec.model == "ltc_ncps":
        from .models import ltc_ncps

        return ltc_ncps.sample(k, rng)
    if spec.model == "cfc":
        from .models import cfc

        return cfc.sample(k, spec.cfc_mode, spec.activation, spec.backbone_units, spec.backbone_layers,
                          rng)
    z = _standard_draws(rng, n, k)
    sw, sb = spec.weight_std, spec.bias_std
    return Params(W=sw * z["W"], b=sb * z["b"], E=sw * z["E"], tau=_tau(z["tau"], sb),
                  W_r=sw * z["W_r"], b_r=sb * z["b_r"], E_r=sw * z["E_r"], A=sw * z["A"])


def _check(p: Params, source: str) -> Params:
    n, k = p.W.shape[0], p.W.shape[1]
    shapes = dict(W=(n, k, k), b=(n, k), E=(n, k, k), tau=(n, k), W_r=(n, k, k), b_r=(n, k),
                  E_r=(n, k, k), A=(n, k))
    for name, shape in shapes.items():
        a = getattr(p, name)
        if a.shape != shape:
            raise SpecError(f"{source}: array {name} must have shape {shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise SpecError(f"{source}: array {name} has non-finite entries")
    if np.any(p.tau <= 0):
        raise SpecError(f"{source}: tau must be > 0 everywhere, got min {p.tau.min()!r}")
    return p


def stack_params(params, xp=np, device=None, dtype=None) -> dict:
    """Stack the arrays of B networks' parameters (any parameter class with ``arrays()``) into
    batched arrays of namespace ``xp`` (numpy or torch), batch axis first."""
    out = {}
    for name in params[0].arrays():
        arr = np.stack([getattr(p, name) for p in params])
        if xp is np:
            out[name] = arr if dtype is None else arr.astype(dtype)
        else:  # torch
            out[name] = xp.as_tensor(arr, device=device, dtype=dtype)
    return out


#: the parameter classes a ``.npz`` may hold, by the model named in its ``model`` entry (a file
#: without one holds :class:`Params`, trajlen's random networks)
def _classes() -> dict[str, type]:
    from .models.cfc import CfcParams
    from .models.ltc_ncps import LtcNcpsParams

    return {"ltc_ncps": LtcNcpsParams, "cfc": CfcParams}


#: ``.npz`` entries that are not arrays of the parameters: the model, and what the arrays do not say
_META = "meta_"


def save_params(p, path: str | Path) -> None:
    """Save to ``.npz``: float64 arrays named as the parameter class's fields, plus ``model`` naming
    the class for a model with parameters of its own (``ltc_ncps``, ``cfc``) and its ``meta_*``
    strings (the CfC's mode and activation)."""
    extra = {"model": np.array(p.MODEL)} if hasattr(p, "MODEL") else {}
    meta = p.meta() if hasattr(p, "meta") else {}
    extra.update({_META + k: np.array(v) for k, v in meta.items()})
    np.savez(path, **p.arrays(), **extra)


def load_params(path: str | Path):
    """Load a ``.npz`` written by :func:`save_params`; unreadable or malformed files raise SpecError."""
    where = f"params file {str(path)!r}"
    try:
        with np.load(path) as f:
            model = str(f["model"]) if "model" in f.files else None
            cls = Params if model is None else _classes().get(model)
            if cls is None:
                raise SpecError(f"{where} holds parameters of model {model!r}, which trajlen does "
                                f"not know (known: {', '.join(_classes())})")
            if model == "cfc":
                arrays = {n: np.asarray(f[n], dtype=np.float64) for n in f.files
                          if n != "model" and not n.startswith(_META)}
                meta = {n[len(_META):]: str(f[n]) for n in f.files if n.startswith(_META)}
                d = dict(tensors=arrays, **meta)
            else:
                d = {name: np.asarray(f[name], dtype=np.float64) for name in
                     (fl.name for fl in fields(cls))}
    except SpecError:
        raise
    except (OSError, KeyError, ValueError, EOFError) as e:
        raise SpecError(f"{where} is not a readable trajlen .npz: {e}") from None
    if cls is not Params:
        try:
            return cls(**d).check(where)
        except ValueError as e:
            raise SpecError(str(e)) from None
    return _check(Params(**d), where)


def export_mat(p: Params, path: str | Path, spec: NetworkSpec | None = None, seed: int | None = None) -> None:
    """Write a MATLAB ``.mat`` in the original code's layout.

    ``w_l, E_l, w_l_r, E_l_r`` ``(n, k, k)``; ``b_l, b_l_r`` ``(n, k, 1)``; ``tau`` ``(n·k, 1)``; plus
    ``A`` (n, k) (not used by the original code), and ``sigma, sigma_b, k, n, seed`` when given.
    """
    from scipy.io import savemat

    n, k = p.depth, p.width
    d = {"w_l": p.W, "b_l": p.b.reshape(n, k, 1), "E_l": p.E, "tau": p.tau.reshape(n * k, 1),
         "w_l_r": p.W_r, "b_l_r": p.b_r.reshape(n, k, 1), "E_l_r": p.E_r, "A": p.A,
         "k": float(k), "n": float(n)}
    if spec is not None:
        d.update(sigma=float(spec.sigma_w2), sigma_b=float(spec.sigma_b2))
    if seed is not None:
        d["seed"] = float(seed)
    savemat(path, d)


def import_mat(path: str | Path) -> Params:
    """Read a ``.mat`` in the original code's layout (as written by its ``main.m`` or :func:`export_mat`).

    The original code has no separate A vector; when the file has none, A is set to the column sums
    of ``E_l`` so that ``ltc_A="vector"`` and ``"column_sums"`` coincide for such a network.
    """
    from scipy.io import loadmat

    try:
        m = loadmat(path)
    except (OSError, ValueError, TypeError, NotImplementedError) as e:
        raise SpecError(f"params file {str(path)!r} is not a readable .mat: {e}") from None
    missing = [name for name in ("w_l", "b_l", "E_l", "tau", "w_l_r", "b_l_r", "E_l_r") if name not in m]
    if missing:
        raise SpecError(f"params file {str(path)!r} lacks {', '.join(missing)} (original code layout)")
    W = np.ascontiguousarray(m["w_l"], dtype=np.float64)
    if W.ndim == 2:  # MATLAB drops a leading singleton only when saved as (k, k)
        W = W[None]
    n, k = W.shape[0], W.shape[1]

    def arr(name, shape):
        a = np.asarray(m[name], dtype=np.float64)
        if a.size != int(np.prod(shape)):
            raise SpecError(f"params file {str(path)!r}: {name} has {a.size} entries, expected "
                            f"{int(np.prod(shape))} for n={n}, k={k}")
        # tau is (n·k, 1) indexed layer-major; MATLAB column-major and C order agree for vectors.
        # loadmat hands back Fortran-ordered arrays: make them C-contiguous so that matmul rounds
        # exactly as for a drawn network (bit-identical results for the same weights).
        return np.ascontiguousarray(a.reshape(shape))

    E = arr("E_l", (n, k, k))
    A = arr("A", (n, k)) if "A" in m else E.sum(axis=1)
    p = Params(W=W, b=arr("b_l", (n, k)), E=E, tau=arr("tau", (n, k)), W_r=arr("w_l_r", (n, k, k)),
               b_r=arr("b_l_r", (n, k)), E_r=arr("E_l_r", (n, k, k)), A=A)
    return _check(p, f"params file {str(path)!r}")


def to_ncps(params, implicit_param_constraints: bool = True):
    """The ``ncps`` torch module of trajlen parameters of an ncps model (``ltc_ncps``: an ``LTC``;
    ``cfc``: a ``CfC``), float64 — see :func:`trajlen.ncps_io.to_ncps`. Needs the ``[ncps]`` extra."""
    from .ncps_io import to_ncps as convert

    return convert(params, implicit_param_constraints)


def from_ncps(module):
    """trajlen parameters of an ``ncps`` LTC/CfC module — see :func:`trajlen.ncps_io.from_ncps`."""
    from .ncps_io import from_ncps as convert

    return convert(module)
