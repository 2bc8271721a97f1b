"""Pipeline stage 0 — specs: what network, what input, what solver.

Three frozen, validated dataclasses describe one measurement:

* :class:`NetworkSpec` — model, activation, width, depth, the σ labels and every switch by which the
  paper's text (SPEC §1a) and the authors' MATLAB code (SPEC §1b) differ;
* :class:`InputSpec` — the circular input, exact or as interpolated samples;
* :class:`SolverSpec` — backend, method, controller, tolerances, which output points to keep, budgets.

``semantics="paper"`` or ``"reference"`` fills every switch left as ``None`` from :data:`SEMANTICS`;
a switch given explicitly wins, so any mix can be run (the ablation walks from one semantics to the
other one switch at a time). Invalid values raise :class:`SpecError` (a ``ValueError``) naming the
field, the rule and the value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

from .solve.registry import BACKENDS, CONTROLLERS, OUTPUTS, TIME_LIMITED, methods_for, resolve_backend
from .solve.registry import METHODS as _REGISTRY

__all__ = [
    "SpecError",
    "NetworkSpec",
    "InputSpec",
    "SolverSpec",
    "SEMANTICS",
    "MODELS",
    "ACTIVATION_NAMES",
    "METHODS",
    "spec_key",
    "make_specs",
    "check_combination",
    "resolve_backend",
]

#: trajlen's random networks (paper Eq. 1 and its two baselines; SPEC §1), the static deep network,
#: the LTC of the ``ncps`` library (conductance form, SPEC §6; :mod:`trajlen.models.ltc_ncps`) and
#: its closed-form CfC (:mod:`trajlen.models.cfc`)
MODELS = ("node", "ctrnn", "ltc", "mlp", "ltc_ncps", "cfc", "ode", "cell")
#: your own networks (``--module``, :mod:`trajlen.user`): a Python vector field, a torch RNN cell;
#: never drawn
USER_MODELS = ("ode", "cell")
ACTIVATION_NAMES = ("tanh", "sigmoid", "relu", "hardtanh", "hardtanh_matlab")
#: models with a nonlinearity of their own: the activations each takes, its default first (the
#: ncps LTC's synapses are sigmoids)
OWN_ACTIVATIONS: dict[str, tuple[str, ...]] = {
    "ltc_ncps": ("sigmoid",), "cfc": ("lecun_tanh", "tanh", "relu", "silu", "gelu"),
    "ode": ("user",), "cell": ("user",)}
#: every activation name any model takes
ALL_ACTIVATIONS = tuple(dict.fromkeys(ACTIVATION_NAMES + sum(OWN_ACTIVATIONS.values(), ())))
#: models whose initialisation is their own (ncps's), not trajlen's σ-scaled normal draws: a row of
#: theirs has null σ labels and weight_init, and the layered switches do not apply
OWN_INIT = ("ltc_ncps", "cfc", "ode", "cell")
#: models of one layer of ``width`` units (depth must be 1)
ONE_LAYER = ("ltc_ncps", "cfc", "ode", "cell")
#: models that are no ODE but a map over the input samples (the solver spec does not apply; L is NaN)
MAP_MODELS = ("cfc", "cell")
#: models without a vector field, hence without Lyapunov exponents (``SolverSpec.lyapunov``): the maps
#: over the input samples and the static network
NO_FLOW = MAP_MODELS + ("mlp",)
#: the CfC's modes (ncps's CfCCell ``mode``) and its backbone defaults
CFC_MODES = ("default", "no_gate", "pure")
CFC_DEFAULTS = {"cfc_mode": "default", "backbone_units": 128, "backbone_layers": 1}


def takes_activation(model: str, activation: str | None) -> bool:
    """Does ``model`` take ``activation`` (None: its default, always)?"""
    return activation is None or activation in OWN_ACTIVATIONS.get(model, ACTIVATION_NAMES)
SEMANTICS_NAMES = ("paper", "reference")
WEIGHT_INITS = ("std_label", "var_over_k")
RECURRENCES = ("shared", "ltc_only", "none")
LTC_DECAYS = ("abs", "signed")
LTC_AS = ("column_sums", "vector")
HARDTANHS = ("matlab", "clip")
INPUT_KINDS = ("exact", "samples", "off")
#: most input samples a transient may need (``(T + 2π)/δt``; 16 bytes each in every field)
MAX_SAMPLE_ROWS = 2 ** 22
#: one period of the circle: the measured windows length (after any transient)
PERIOD = 2.0 * math.pi
#: The methods, backends, controllers and outputs: the one registry (trajlen.solve.registry).
METHODS = tuple(_REGISTRY)
FIXED_METHODS = tuple(m for m, v in _REGISTRY.items() if v.kind == "fixed")
DEVICES = ("cpu", "cuda")
DTYPES = ("float64", "float32")

#: Every switch of SPEC §1b, per semantics. ``network`` keys are NetworkSpec fields, ``input`` keys
#: InputSpec fields, ``solver`` keys SolverSpec fields.
SEMANTICS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "network": dict(weight_init="var_over_k", recurrence="shared", ltc_decay="signed",
                        ltc_A="vector", hardtanh="clip"),
        "input": dict(kind="exact"),
        "solver": dict(controller="scipy", output="steps", refine=1),
    },
    "reference": {
        "network": dict(weight_init="std_label", recurrence="ltc_only", ltc_decay="abs",
                        ltc_A="column_sums", hardtanh="matlab"),
        "input": dict(kind="samples", n_samples=100),
        "solver": dict(controller="matlab", output="refine", refine=4),
    },
}


class SpecError(ValueError):
    """An invalid spec value. The message names the field, the rule and the value received."""


def _fail(name: str, rule: str, value: Any) -> None:
    raise SpecError(f"{name} {rule}, got {value!r}")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(name, f"must be one of {', '.join(choices)}", value)


_INT64_MAX = 2 ** 63 - 1


def _int(name: str, value: Any, minimum: int) -> None:
    # the upper bound: every integer field is an int64 column of the result table
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= _INT64_MAX:
        _fail(name, f"must be an integer in [{minimum}, 2**63 - 1]", value)


def _positive(name: str, value: Any, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        _fail(name, "must be a finite number " + (">= 0" if allow_zero else "> 0"), value)


class _Spec:
    """Shared helpers: dict round trip and a stable content hash."""

    #: Fields added after result stores existed: :meth:`key_dict` leaves each out while it holds its
    #: default, so a spec that does not use it keeps the task id it always had.
    _KEY_OMIT_AT_DEFAULT: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # the fields are scalars: a shallow dict (dataclasses.asdict deep-copies, 10× slower, and
        # a sweep builds this for every row)
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def key_dict(self) -> dict[str, Any]:
        """What :func:`spec_key` hashes: :meth:`to_dict` without the later fields at their default."""
        d = self.to_dict()
        defaults = {f.name: f.default for f in fields(self)}  # type: ignore[arg-type]
        for name in self._KEY_OMIT_AT_DEFAULT:
            if d[name] == defaults[name]:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            raise SpecError(f"{cls.__name__} has no field(s) {', '.join(unknown)}; "
                            f"valid fields: {', '.join(sorted(names))}")
        return cls(**d)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _resolve(obj: Any, section: str) -> None:
    """Fill switches left as None from the semantics preset (frozen dataclass, hence setattr)."""
    for name, value in SEMANTICS[obj.semantics][section].items():
        if getattr(obj, name) is None:
            object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class NetworkSpec(_Spec):
    """A random continuous-time (or static) network, SPEC §1.

    Parameters
    ----------
    model : {"node", "ctrnn", "ltc", "mlp", "ltc_ncps", "cfc"}
        Neural ODE, CT-RNN, LTC (paper Eq. 1), the static deep network of Raghu et al. (paper Fig. 1),
        the LTC of ``ncps`` (conductance form, ncps's initialisation; one layer;
        :mod:`trajlen.models.ltc_ncps`), ncps's CfC (a map over the input samples, one layer;
        :mod:`trajlen.models.cfc`), or your own network (``ode``: a Python vector field, ``cell``: a
        torch RNN cell; :mod:`trajlen.user`, from ``--module``, never drawn).
    activation : {"tanh", "sigmoid", "relu", "hardtanh", "hardtanh_matlab"} or None
        φ. ``"hardtanh"`` follows the ``hardtanh`` switch; ``"hardtanh_matlab"`` is always the
        MATLAB ``Htanh.m`` behaviour (identity unless every unit saturates on the same side).
        None (default): ``"tanh"``, or the model's own nonlinearity (:data:`OWN_ACTIVATIONS`:
        ``ltc_ncps`` takes ``"sigmoid"`` only, its synapses'; ``cfc`` its backbone's, ``"lecun_tanh"``
        by default, or tanh, relu, silu, gelu).
    width, depth : int
        k units per layer (k >= 2: PCA keeps two components), n layers.
    sigma_w2, sigma_b2 : float
        The numbers *labelled* σ_w², σ_b² in the paper's figures. What they mean depends on
        ``weight_init``: under ``"var_over_k"`` (paper text) weights ~ N(0, σ_w²/k) — a *variance* —
        biases and τ ~ N(0, σ_b²); under ``"std_label"`` (authors' code) the label is the *standard
        deviation*, weights ~ N(0, s²) with s = σ_w² and no 1/k, biases and τ with std σ_b².
    semantics : {"paper", "reference"}
        Preset that fills every switch left as ``None`` (see :data:`SEMANTICS`).
    weight_init : {"var_over_k", "std_label"}
    recurrence : {"shared", "ltc_only", "none"}
        ``"shared"``: ``W_rec x`` inside the one f of all three models (paper); ``"ltc_only"``: node and
        CT-RNN have no recurrent term and the LTC has a separate recurrent gate g (code); ``"none"``:
        no recurrent weights at all (what the authors' commented bound check requires).
    ltc_decay : {"signed", "abs"}
        LTC leak ``1/τ + f`` (paper) or ``1/τ + |f| + |g|`` (code).
    ltc_A : {"vector", "column_sums"}
        LTC A as its own N(0, σ_w²/k) vector (paper) or as column sums of k×k matrices E (code).
    hardtanh : {"clip", "matlab"}
        What ``activation="hardtanh"`` means: the true clip, or the MATLAB ``Htanh.m`` behaviour.
    cfc_mode : {"default", "no_gate", "pure"} or None
        ``cfc`` only (None → "default"): ncps's CfCCell mode.
    backbone_units, backbone_layers : int or None
        ``cfc`` only (None → 128 and 1, ncps's defaults): the backbone's width and Linear layers (0: the
        heads read ``[I, h]`` directly).
    """

    model: str = "ltc"
    activation: str | None = None
    width: int = 100
    depth: int = 1
    sigma_w2: float = 2.0
    sigma_b2: float = 1.0
    semantics: str = "reference"
    weight_init: str | None = None
    recurrence: str | None = None
    ltc_decay: str | None = None
    ltc_A: str | None = None
    hardtanh: str | None = None
    cfc_mode: str | None = None
    backbone_units: int | None = None
    backbone_layers: int | None = None

    _KEY_OMIT_AT_DEFAULT = ("cfc_mode", "backbone_units", "backbone_layers")

    def __post_init__(self) -> None:
        _choice("model", self.model, MODELS)
        self._cfc_fields()
        own = OWN_ACTIVATIONS.get(self.model)
        if self.activation is None:
            object.__setattr__(self, "activation", own[0] if own else "tanh")
        if own:
            _choice(f"activation with model {self.model}", self.activation, own)
        else:
            _choice("activation", self.activation, ACTIVATION_NAMES)
        _int("width", self.width, 2)
        _int("depth", self.depth, 1)
        if self.model in ONE_LAYER and self.depth != 1:
            _fail("depth", f"must be 1 with model {self.model} (one layer of width units)", self.depth)
        _positive("sigma_w2", self.sigma_w2)
        _positive("sigma_b2", self.sigma_b2)
        _choice("semantics", self.semantics, SEMANTICS_NAMES)
        _resolve(self, "network")
        _choice("weight_init", self.weight_init, WEIGHT_INITS)
        _choice("recurrence", self.recurrence, RECURRENCES)
        _choice("ltc_decay", self.ltc_decay, LTC_DECAYS)
        _choice("ltc_A", self.ltc_A, LTC_AS)
        _choice("hardtanh", self.hardtanh, HARDTANHS)

    def _cfc_fields(self) -> None:
        for name, default in CFC_DEFAULTS.items():
            value = getattr(self, name)
            if self.model != "cfc":
                if value is not None:
                    _fail(name, "applies only to model cfc", value)
                continue
            if value is None:
                object.__setattr__(self, name, default)
        if self.model == "cfc":
            _choice("cfc_mode", self.cfc_mode, CFC_MODES)
            _int("backbone_units", self.backbone_units, 1)
            _int("backbone_layers", self.backbone_layers, 0)

    @property
    def phi(self) -> str:
        """The activation actually applied (``"hardtanh"`` resolved through the switch)."""
        if self.activation == "hardtanh" and self.hardtanh == "matlab":
            return "hardtanh_matlab"
        return self.activation

    @property
    def weight_std(self) -> float:
        """Standard deviation of every weight entry (W, W_rec, E, E_r, A)."""
        if self.weight_init == "std_label":
            return float(self.sigma_w2)
        return math.sqrt(self.sigma_w2 / self.width)

    @property
    def bias_std(self) -> float:
        """Standard deviation of biases; τ = |N(0, bias_std²)|."""
        if self.weight_init == "std_label":
            return float(self.sigma_b2)
        return math.sqrt(self.sigma_b2)

    @property
    def n_state(self) -> int:
        return self.width * self.depth


@dataclass(frozen=True)
class InputSpec(_Spec):
    """The circular input ``I(t) = gain·(sin ωt, cos ωt)``, SPEC §1 and §6 ("Input attribution").

    The network is integrated from x(0) = 0 over ``[0, transient + 2π]`` and measured on the last
    period ``[transient, transient + 2π]`` only (:attr:`t_start`, :attr:`t_end`): with
    ``transient = 0`` (default) that is the paper's ``[0, 2π]``; with ``transient = T > 0`` the
    orbit the input drives once the transient from x(0) = 0 has decayed.

    Parameters
    ----------
    kind : {"exact", "samples", "off"}
        The exact curve (paper); ``n_samples`` points of it at the input step ``2π/(n_samples − 1)``
        (``linspace(0, 2π, n_samples)`` over one period, continued at the same step over a
        transient), linearly interpolated in t (authors' code); or no input at all, ``I ≡ 0`` (the
        bias-driven trajectory from x(0) = 0).
    n_samples : int
        Number of input samples per period. Also the denominator of the computational depth L
        (SPEC §2) and the number of circle points a static ``mlp`` network is evaluated on.
    semantics : preset filling ``kind`` when it is None.
    gain : float
        Amplitude (>= 0; 1 in the paper). Does not apply to ``kind="off"``.
    omega : float
        Angular frequency ω in rad per unit time (> 0; 1 in the paper: one revolution per measured
        period). Does not apply to ``kind="off"``.
    transient : float
        T >= 0, in the model's time units: how long the network runs before the measured period.
    """

    kind: str | None = None
    n_samples: int = 100
    semantics: str = "reference"
    gain: float = 1.0
    omega: float = 1.0
    transient: float = 0.0

    _KEY_OMIT_AT_DEFAULT = ("gain", "omega", "transient")

    def __post_init__(self) -> None:
        _choice("semantics", self.semantics, SEMANTICS_NAMES)
        _resolve(self, "input")
        _choice("input kind", self.kind, INPUT_KINDS)
        _int("n_samples", self.n_samples, 2)
        _positive("input gain (--input-gain)", self.gain, allow_zero=True)
        _positive("input omega (--input-omega)", self.omega)
        _positive("transient (--transient)", self.transient, allow_zero=True)
        if self.kind == "off":
            for name, value in (("gain", self.gain), ("omega", self.omega)):
                if value != 1.0:
                    _fail(f"input {name} (--input-{name})", "does not apply to --input-kind off "
                          "(I ≡ 0): leave it at 1", value)
        for name in ("gain", "omega", "transient"):   # 2 and 2.0 are one spec: one task id
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.kind == "samples" and self.transient > 0:
            rows = self.t_end / self.dt
            if rows > MAX_SAMPLE_ROWS:
                _fail("transient (--transient)", f"with input kind samples needs a table of "
                      f"{rows:.3g} samples, more than {MAX_SAMPLE_ROWS}: shorten it, lower "
                      "--n-samples or use --input-kind exact", self.transient)

    @property
    def t_start(self) -> float:
        """Start of the measured window: the transient T."""
        return float(self.transient)

    @property
    def period(self) -> float:
        """Length of the measured window, one period 2π (its L, MATLAB's MaxStep, l(I) refer to it)."""
        return PERIOD

    @property
    def t_end(self) -> float:
        """End of the integration and of the measured window, T + 2π."""
        return PERIOD if self.transient == 0 else self.transient + PERIOD

    @property
    def dt(self) -> float:
        """Input step δt = 2π/(n_samples − 1) (the step Theorem 5 calls δt)."""
        return self.period / (self.n_samples - 1)


@dataclass(frozen=True)
class SolverSpec(_Spec):
    """How the ODE is integrated and which points the measures see, SPEC §3.

    Parameters
    ----------
    backend : {"auto", "scipy", "torch", "numba"}
        ``scipy``: one ``scipy.integrate`` solver per network. ``torch``: the batched solver (CPU or
        CUDA). ``numba``: the compiled per-network kernel, the fast path on CPU (float64, RK23/RK45).
        ``auto`` (default) is resolved here, once, by :func:`resolve_backend`, and the spec records
        the backend it chose, so results and task ids name what actually ran.
    method : str
        RK23, RK45, DOP853, BDF, Radau, LSODA (scipy); RK23, RK45, euler, rk4, fused (torch);
        RK23, RK45, ros23w (ode23s's Rosenbrock pair as a W-method with the diagonal of the
        analytic Jacobian), RK45+ros23w (RK45 until its stiffness test fires, then ros23w: the
        stiff-aware choice where only the path matters, ``output="grid"``) (numba).
    controller : {"scipy", "matlab"}
        Step-size rules of the torch and numba RK solvers (scipy backend: always scipy's own).
    rtol, atol : float
        Relative and absolute tolerances (> 0).
    output : {"steps", "refine", "grid"}
        Solver points; solver points plus ``refine − 1`` interpolated points per step (MATLAB
        ``Refine``); or ``grid_points`` uniform points from dense output.
    refine : int
    grid_points : int
    dt : float
        Step of the fixed-step methods (not of ``ncps_fused``, whose step is the input step over
        ``ode_unfolds``).
    ode_unfolds : int
        ``ncps_fused`` (ncps's own LTC solver): fused steps per input step (ncps's ``ode_unfolds``,
        default 6); the step is ``InputSpec.dt / ode_unfolds`` and the input is held at each input
        sample over its step, as ncps holds a sequence element.
    lyapunov : int
        Lyapunov exponents to compute beside the length (0: none): the ``lyapunov`` largest
        conditional exponents over the input period by tangent-space integration with QR
        re-orthonormalisation and the model's analytic Jacobian (:mod:`trajlen.lyapunov`: DOP853 at
        rtol 1e-8, QR every 0.1), whatever the backend of the length's solve.
    max_steps : int
        Step budget per solve (accepted + rejected); exceeding it is a recorded failure.
    max_seconds : float or None
        Wall-time limit per solve (scipy backend); exceeding it is a recorded failure.
    device, dtype : torch options.
    semantics : preset filling ``controller``, ``output``, ``refine`` when None.
    perturb : int
        Round-off sensitivity (SPEC §6): solve each network this many more times with every
        parameter multiplied by ``1 + 1e-15·ε``, ε ~ N(0, 1) seeded by the task, and record the
        spread of length and L over the ``perturb + 1`` solves (:mod:`trajlen.perturb`). 0: off.
    """

    backend: str = "auto"
    method: str = "RK45"
    controller: str | None = None
    rtol: float = 1e-2
    atol: float = 1e-4
    output: str | None = None
    refine: int | None = None
    grid_points: int = 2001
    dt: float = 0.01
    ode_unfolds: int = 6
    lyapunov: int = 0
    max_steps: int = 200_000
    max_seconds: float | None = None
    device: str = "cpu"
    dtype: str = "float64"
    semantics: str = "reference"
    perturb: int = 0

    _KEY_OMIT_AT_DEFAULT = ("perturb", "ode_unfolds", "lyapunov")

    def __post_init__(self) -> None:
        _choice("semantics", self.semantics, SEMANTICS_NAMES)
        _int("perturb (--perturb)", self.perturb, 0)
        _choice("backend", self.backend, BACKENDS)
        if self.backend == "auto":
            object.__setattr__(self, "backend", resolve_backend(self.method, self.device, self.dtype,
                                                                self.max_seconds))
        if self.controller is None and self.backend == "scipy":
            object.__setattr__(self, "controller", "scipy")
        _resolve(self, "solver")
        _choice("method", self.method, METHODS)
        if self.backend not in _REGISTRY[self.method].backends:
            where = ", ".join(_REGISTRY[self.method].backends)
            _fail("method", f"with backend {self.backend} must be one of "
                  f"{', '.join(methods_for(self.backend))} ({self.method} runs on {where})", self.method)
        _choice("controller", self.controller, CONTROLLERS)
        if self.backend == "scipy" and self.controller != "scipy":
            _fail("controller", "must be scipy with backend scipy (scipy's own step rules; the "
                  "MATLAB controller runs on the numba and torch backends)", self.controller)
        _positive("rtol", self.rtol)
        _positive("atol", self.atol)
        _choice("output", self.output, OUTPUTS)
        _int("refine", self.refine, 1)
        _int("grid_points", self.grid_points, 2)
        _positive("dt", self.dt)
        _int("ode_unfolds", self.ode_unfolds, 1)
        _int("lyapunov (--lyapunov)", self.lyapunov, 0)
        _int("max_steps", self.max_steps, 1)
        if self.max_seconds is not None:
            _positive("max_seconds", self.max_seconds)
            if self.backend not in TIME_LIMITED:
                _fail("max_seconds", f"is enforced by the {' and '.join(TIME_LIMITED)} backends only "
                      "(a torch batch shares one clock; it is bounded by max_steps); use another "
                      "backend or drop it", self.max_seconds)
        _choice("device", self.device, DEVICES)
        _choice("dtype", self.dtype, DTYPES)
        if self.backend == "torch" and importlib.util.find_spec("torch") is None:
            others = [b for b in _REGISTRY[self.method].backends if b != "torch"]
            hint = f" or --backend {others[0]}" if others else ""
            _fail("backend", f"torch is not installed: pip install 'trajlen[torch]'{hint}",
                  self.backend)
        if self.device == "cuda" and self.backend == "torch" and not _cuda_available():
            _fail("device", "cuda needs a CUDA GPU that torch can see (torch.cuda.is_available() is "
                  "False on this machine)", self.device)
        if self.backend in ("numba", "scipy") and (self.device != "cpu" or self.dtype != "float64"):
            _fail("backend", f"{self.backend} runs on the CPU in float64 only (use --backend torch "
                  f"for device {self.device!r}, dtype {self.dtype!r})", self.backend)

    @property
    def fixed_step(self) -> bool:
        return self.method in FIXED_METHODS


def _cuda_available() -> bool:
    import torch  # only asked for --device cuda, where torch is needed anyway

    return bool(torch.cuda.is_available())


def spec_key(*specs: _Spec, extra: Any = None) -> str:
    """A stable 16-hex-digit content hash of specs (and any JSON-able extra)."""
    payload = [type(s).__name__ for s in specs], [s.key_dict() for s in specs], extra
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class _Fields:
    network: dict[str, Any] = field(default_factory=dict)
    input: dict[str, Any] = field(default_factory=dict)
    solver: dict[str, Any] = field(default_factory=dict)


def make_specs(semantics: str = "reference", **values: Any) -> tuple[NetworkSpec, InputSpec, SolverSpec]:
    """Build the three specs from flat keyword values, routing each to the spec that owns it.

    ``input_kind`` sets :attr:`InputSpec.kind`. Unknown names raise :class:`SpecError`.
    """
    net_names = {f.name for f in fields(NetworkSpec)}
    inp_names = {f.name for f in fields(InputSpec)}
    sol_names = {f.name for f in fields(SolverSpec)}
    out = _Fields()
    for name, value in values.items():
        if name == "input_kind":
            out.input["kind"] = value
        elif name in net_names:
            out.network[name] = value
        elif name in inp_names:
            out.input[name] = value
        elif name in sol_names:
            out.solver[name] = value
        else:
            raise SpecError(f"unknown spec field {name!r}; valid: "
                            f"{', '.join(sorted(net_names | inp_names | sol_names | {'input_kind'}))}")
    for d in (out.network, out.input, out.solver):
        d.setdefault("semantics", semantics)
    specs = NetworkSpec(**out.network), InputSpec(**out.input), SolverSpec(**out.solver)
    check_combination(*specs)
    return specs


#: methods that only one model's equations define: ncps's fused unfolding needs its capacitance
MODEL_METHODS = {"ncps_fused": ("ltc_ncps",)}


def check_combination(net: NetworkSpec, inp: InputSpec, solver: SolverSpec) -> None:
    """Refuse specs that are valid alone but not together (:class:`SpecError`, naming both)."""
    if net.model == "ode" and solver.backend != "scipy":
        _fail("backend", "must be scipy for model ode (a Python vector field f(t, x, I): the numba and "
              "torch backends compile or batch trajlen's own equations)", solver.backend)
    if solver.perturb and net.model in USER_MODELS:
        _fail("perturb (--perturb)", f"does not apply to model {net.model} (your own vector field or "
              "cell: trajlen cannot perturb its parameters)", solver.perturb)
    if solver.lyapunov:
        if net.model in NO_FLOW:
            _fail("lyapunov", f"needs an ODE's Jacobian; model {net.model} is "
                  + ("static" if net.model == "mlp" else "a map over the input samples (no vector field)"),
                  solver.lyapunov)
        if solver.lyapunov > net.n_state:
            _fail("lyapunov", f"must be at most the {net.n_state} states of the network", solver.lyapunov)
    models = MODEL_METHODS.get(solver.method)
    if models is not None and net.model not in models:
        _fail("method", f"{solver.method} is the solver of model {' or '.join(models)} (model "
              f"{net.model} has no membrane capacitance to regularise); use fused for the paper's "
              "Eq. 3", solver.method)
