"""Pipeline stage 1 (parameters) for networks trajlen did not draw: your own vector field, or a trained
``torch.nn.Module`` — measured through the same input, solver, PCA, length, L and result store.

What can be measured (:func:`source_of`):

* an ncps ``LTC``/``LTCCell`` — read into trajlen's ``ltc_ncps`` parameters (:func:`trajlen.params.
  from_ncps`), so every trajlen solver integrates it as the ODE it is;
* an ncps ``CfC``/``CfCCell`` — trajlen's ``cfc`` map with its parameters;
* any other ``torch.nn.Module`` RNN cell ``h' = cell(I, h)`` (or ``cell(I, h, Δt)`` when its
  ``forward`` takes a third argument; a tuple return's last element is h'): model ``cell``, a map
  over the input samples like the CfC, with state size ``state_size`` or ``hidden_size``;
* a Python vector field ``f(t, x, I) -> dx/dt`` (``t`` float, ``x (N,)``, ``I (2,)``) given as
  :class:`UserODE` (or ``(f, N)``): model ``ode``, integrated on the scipy backend (any of its
  methods); its Jacobian is the one given, or central finite differences.

``python -m trajlen.sweep --module SPEC`` loads one with :func:`load_source`: ``pkg.mod:make`` or
``path/to/file.py:make`` (``make()`` is called with no arguments and returns the network; the module
is imported with :mod:`trajlen.plugin`, never from the current directory implicitly) or a checkpoint
``file.pt`` holding a whole module (``torch.save(module, path)``; unpickling it runs code). Both run
code. Rows record the spec (``module_path``) and a SHA-256 of the network's parameters
(``module_sha256``: its state_dict tensors, or for a Python function its source).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .plugin import load_object, one_line
from .spec import SpecError

__all__ = ["UserODE", "TorchCell", "Source", "source_of", "load_source", "register", "measure",
           "CHECKPOINT_SUFFIXES", "CallableField"]

#: a ``--module`` ending in one of these is a checkpoint file holding a whole torch module
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
#: finite-difference step (relative to max(1, |x|)) of a Python vector field's Jacobian
FD_STEP = 1e-6


@dataclass(frozen=True, eq=False)
class UserODE:
    """A Python vector field ``f(t, x, I) -> dx/dt`` of ``state_size`` states (model ``ode``).

    ``jacobian(t, x, I) -> (N, N)``, if given, is its Jacobian (implicit methods, Lyapunov exponents);
    else central finite differences of step :data:`FD_STEP`. ``params`` (arrays), if given, is what
    ``module_sha256`` hashes; else the hash is of ``f``'s source.
    """

    f: Callable
    state_size: int
    jacobian: Callable | None = None
    params: dict | None = None

    MODEL = "ode"

    @property
    def width(self) -> int:
        return self.state_size

    def spec_fields(self) -> dict[str, Any]:
        return dict(model="ode", width=self.state_size, depth=1, activation="user", cfc_mode=None,
                    backbone_units=None, backbone_layers=None)


class TorchCell:
    """A torch RNN cell as a map ``h' = cell(I, h[, Δt])`` (model ``cell``), run in float64 in
    evaluation mode on a copy of the module."""

    MODEL = "cell"

    def __init__(self, module: Any, state_size: int):
        import copy

        self.module = copy.deepcopy(module).double().eval()
        self.state_size = int(state_size)
        try:
            n_args = len(inspect.signature(self.module.forward).parameters)
        except (TypeError, ValueError):
            n_args = 2
        self.takes_time = n_args >= 3

    def spec_fields(self) -> dict[str, Any]:
        return dict(model="cell", width=self.state_size, depth=1, activation="user", cfc_mode=None,
                    backbone_units=None, backbone_layers=None)

    def run(self, inputs: np.ndarray, dt: float) -> np.ndarray:
        """States ``(T, N)`` from ``h = 0`` over ``inputs (T, 2)``, as :func:`trajlen.models.cfc.run`."""
        import torch

        h = torch.zeros(1, self.state_size, dtype=torch.float64)
        out = [h[0].numpy().copy()]
        x = torch.as_tensor(inputs, dtype=torch.float64)
        with torch.no_grad():
            for m in range(len(inputs) - 1):
                r = self.module(x[m:m + 1], h, dt) if self.takes_time else self.module(x[m:m + 1], h)
                h = r[-1] if isinstance(r, (tuple, list)) else r
                if tuple(h.shape) != (1, self.state_size):
                    raise SpecError(f"the torch cell returned a state of shape {tuple(h.shape)}, "
                                    f"expected (1, {self.state_size})")
                out.append(h[0].numpy().copy())
        return np.array(out)


@dataclass(frozen=True, eq=False)
class Source:
    """A network to measure: ``spec`` (the row's ``module_path``), its parameters for the pipeline
    (LtcNcpsParams, CfcParams, UserODE or TorchCell) and the SHA-256 of its parameters."""

    spec: str
    params: Any
    sha256: str

    def spec_fields(self) -> dict[str, Any]:
        return self.params.spec_fields()


def _torch_sha256(module: Any) -> str:
    """SHA-256 of a module's state_dict: each tensor's name, dtype, shape and bytes, by name."""
    import torch

    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        a = t.detach().cpu().contiguous()
        h.update(f"{name}\0{a.dtype}\0{tuple(a.shape)}\0".encode())
        h.update(a.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _ode_sha256(ode: UserODE) -> str:
    h = hashlib.sha256(f"state_size={ode.state_size}\0".encode())
    if ode.params is not None:
        for name, v in sorted(ode.params.items()):
            h.update(f"{name}\0".encode() + np.ascontiguousarray(v, dtype=np.float64).tobytes())
        return h.hexdigest()
    for fn in (ode.f, ode.jacobian):
        if fn is None:
            continue
        try:
            h.update(inspect.getsource(fn).encode())
        except (OSError, TypeError):
            code = getattr(fn, "__code__", None)
            h.update(repr(fn).encode() if code is None else code.co_code + repr(code.co_consts).encode())
    return h.hexdigest()


def _is_torch_module(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__)


def source_of(obj: Any, spec: str, state_size: int | None = None, jacobian: Callable | None = None) -> Source:
    """Classify ``obj`` (module docstring); ``state_size`` (and ``jacobian``) complete a bare
    callable ``f(t, x, I)``. Raises :class:`SpecError` for anything else."""
    from .ncps_io import from_ncps, ncps_kind

    if isinstance(obj, tuple) and len(obj) == 2 and callable(obj[0]):
        obj = UserODE(obj[0], int(obj[1]), jacobian)
    if _is_torch_module(obj):
        sha = _torch_sha256(obj)
        if ncps_kind(obj) is not None:
            return Source(spec, from_ncps(obj), sha)
        n = getattr(obj, "state_size", None) or getattr(obj, "hidden_size", None)
        if not isinstance(n, int) or n < 2:
            raise SpecError(f"module {spec!r}: a torch cell needs an integer state_size or hidden_size "
                            f">= 2, got {n!r}")
        return Source(spec, TorchCell(obj, n), sha)
    if callable(obj) and not isinstance(obj, UserODE):
        if state_size is None:
            raise SpecError(f"module {spec!r}: a Python vector field f(t, x, I) needs its state size "
                            "(return UserODE(f, n) or (f, n), or pass state_size=)")
        obj = UserODE(obj, int(state_size), jacobian)
    if isinstance(obj, UserODE):
        if isinstance(obj.state_size, bool) or not isinstance(obj.state_size, int) or obj.state_size < 2:
            raise SpecError(f"module {spec!r}: state_size must be an integer >= 2 (PCA keeps two "
                            f"components), got {obj.state_size!r}")
        return Source(spec, obj, _ode_sha256(obj))
    raise SpecError(f"module {spec!r} gave a {type(obj).__name__}: expected a torch.nn.Module RNN cell "
                    "(an ncps LTC or CfC, or h' = cell(I, h)), UserODE(f, n) or (f, n)")


_MEMORY: dict[str, Source] = {}


def register(obj: Any, state_size: int | None = None, jacobian: Callable | None = None) -> str:
    """Hold an in-memory network in this process; returns its spec ``memory:<sha256[:16]>`` (what
    :func:`measure` puts in the tasks: they run in this process only)."""
    src = source_of(obj, "memory", state_size, jacobian)
    key = f"memory:{src.sha256[:16]}"
    _MEMORY[key] = Source(key, src.params, src.sha256)
    return key


def _checkpoint(spec: str) -> Any:
    try:
        import torch
    except ImportError:
        raise SpecError(f"module {spec!r}: reading a checkpoint needs torch: pip install "
                        "'trajlen[torch]'") from None
    p = Path(spec).expanduser()
    if not p.is_file():
        raise SpecError(f"module {spec!r}: file does not exist")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=False)   # unpickling runs code
    except Exception as e:  # noqa: BLE001 - any reader error is a bad --module value
        raise SpecError(f"module {spec!r}: torch.load raised {type(e).__name__}: {one_line(e)}") from None
    if isinstance(obj, dict):
        raise SpecError(f"module {spec!r} holds a state_dict, not a module: give a factory "
                        "pkg.mod:make that builds the module and loads it")
    return obj


@lru_cache(maxsize=16)
def load_source(spec: str) -> Source:
    """The network a ``--module`` spec names (module docstring) — **this runs code**. Cached per
    process: the tasks of a sweep load it once."""
    if spec.startswith("memory:"):
        if spec not in _MEMORY:
            raise SpecError(f"module {spec!r} was registered in another process (trajlen.measure runs "
                            "in-memory networks in its own process only)")
        return _MEMORY[spec]
    if spec.endswith(CHECKPOINT_SUFFIXES):
        return source_of(_checkpoint(spec), str(Path(spec).expanduser().resolve()))
    target, _, name = spec.rpartition(":")
    make = load_object(spec, "module", "factory")
    if not callable(make):
        raise SpecError(f"module {spec!r}: {name!r} is not callable (a factory make() returning the "
                        "network)")
    try:
        obj = make()
    except SpecError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's factory failing is one line, exit 2
        raise SpecError(f"module {spec!r}: {name}() raised {type(e).__name__}: {one_line(e)}") from None
    is_file = target.endswith(".py") or "/" in target
    where = f"{Path(target).expanduser().resolve()}:{name}" if is_file else spec
    return source_of(obj, where)


class CallableField:
    """A :class:`UserODE` with the vector-field interface the scipy executor uses (``__call__``,
    ``jacobian`` for ``t (B,)``, ``y (B, N)``; ``take``)."""

    def __init__(self, net: Any, inp: Any, ode: UserODE):
        from .inputs import CircleInput

        self.net, self.inp, self.ode = net, inp, ode
        self.input = CircleInput(inp)

    def take(self, rows) -> CallableField:
        return self

    def _one(self, t: float, y: np.ndarray, I: np.ndarray) -> np.ndarray:
        out = np.asarray(self.ode.f(float(t), y, I), dtype=np.float64)
        if out.shape != y.shape:
            raise ValueError(f"the vector field returned shape {out.shape}, expected {y.shape}")
        return out

    def __call__(self, t, y):
        I = self.input(np.asarray(t, dtype=np.float64))
        return np.stack([self._one(t[b], y[b], I[b]) for b in range(y.shape[0])])

    def jacobian(self, t, y):
        """The given Jacobian, or central differences (step :data:`FD_STEP` · max(1, |x_j|))."""
        I = self.input(np.asarray(t, dtype=np.float64))
        out = []
        for b in range(y.shape[0]):
            if self.ode.jacobian is not None:
                out.append(np.asarray(self.ode.jacobian(float(t[b]), y[b], I[b]), dtype=np.float64))
                continue
            cols = []
            for j in range(y.shape[1]):
                e = np.zeros(y.shape[1])
                e[j] = FD_STEP * max(1.0, abs(y[b, j]))
                cols.append((self._one(t[b], y[b] + e, I[b]) - self._one(t[b], y[b] - e, I[b])) / (2 * e[j]))
            out.append(np.stack(cols, axis=1))
        return np.stack(out)


def measure(model: Any, *, state_size: int | None = None, jacobian: Callable | None = None,
            semantics: str = "reference", seed: int = 0, out: str | None = None, **values: Any) -> dict:
    """Measure your own network: one result row, as ``python -m trajlen.sweep --module`` writes it.

    Parameters
    ----------
    model : a trained or random ``torch.nn.Module`` (ncps ``LTC``/``CfC``, or a cell ``h' = cell(I,
        h)``), :class:`UserODE`, a callable ``f(t, x, I)`` with ``state_size``, or a ``--module``
        spec string (``pkg.mod:make``, ``file.py:make``, ``file.pt``).
    state_size, jacobian : for a bare callable.
    semantics : the preset of the input and solver (``"reference"``: 100 interpolated input samples,
        RK45 with MATLAB's rules and Refine 4; ``"paper"``: the exact circle, scipy's rules).
    seed : recorded in the row (nothing is drawn).
    out : a result store directory to write the row to (resumable, as a sweep's); None: no store.
    **values : any spec field with one value (``method="DOP853"``, ``rtol=1e-8``, ``n_samples=316``,
        ``backend="scipy"``, ``lyapunov=3``, …). A Python vector field runs on the scipy backend.

    Returns
    -------
    dict : the row (columns of :data:`trajlen.shards.ROW_SCHEMA`).
    """
    from .tasks import build_module_tasks

    spec = model if isinstance(model, str) else register(model, state_size, jacobian)
    grid = {k: [v] for k, v in values.items()}
    grid["semantics"] = [semantics]
    tasks = build_module_tasks(grid, [spec], seed, given=set(values))
    if out is None:
        from .pipeline import run_tasks

        return run_tasks(tasks)[0]
    from .driver import run_sweep

    res = run_sweep(tasks, out, jobs=1, progress=False)
    row = res.table[res.table["task_id"] == tasks[0].task_id].iloc[0]
    return row.to_dict()
