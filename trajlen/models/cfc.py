"""The closed-form continuous-time network, CfC (Hasani et al., Nature Machine Intelligence 2022), as
``ncps/torch/cfc_cell.py`` of ncps 1.0.1 computes it — written once here for numpy and torch.

CfC is not an ODE: it is a recurrent *map* that advances the hidden state h over an elapsed time Δt
in closed form. With ``x = [I, h]`` and ``z = backbone(x)`` (``backbone_layers`` Linear + activation
layers of ``backbone_units``; z = x without them), and heads ``ff1, ff2, time_a, time_b`` (Linear
maps of z):

* ``default``: ``h' = tanh(ff1) ⊙ (1 − s) + s ⊙ tanh(ff2)``, ``s = σ(time_a · Δt + time_b)``
  (the paper's σ(−(…)) with the sign absorbed into the learned heads, as the code has it);
* ``no_gate``: ``h' = tanh(ff1) + s ⊙ tanh(ff2)``;
* ``pure``: ``h' = −A ⊙ exp(−Δt (|w_τ| + |ff1|)) ⊙ ff1 + A`` (no tanh on ff1; no ff2 or time heads).

trajlen drives it with the circle sampled at ``t_m = m·δt`` (``InputSpec.n_samples`` points, δt =
2π/(n − 1)): ``h(t_{m+1}) = CfC(I(t_m), h(t_m), δt)`` from ``h(0) = 0`` — the same input a network
sees in ncps when fed the sample sequence with ``timespans = δt`` — and the trajectory is h at the
sample times. Its computational depth is one map application per input sample by construction, so a
row's L (solver steps per input sample) is NaN: there is no solver, and the natural study is the
length against δt instead.

Initialisation (:func:`sample`), ncps's distribution drawn with numpy from trajlen's seeds: every
2-D weight (the Linear weights, and ``w_tau``, ``A`` of ``pure``, which ``init_weights`` reaches too)
Xavier-uniform ``U(±√(6/(fan_in + fan_out)))``; biases torch's Linear default ``U(±1/√fan_in)``.
Dropout (``backbone_dropout``) has no effect on a forward pass in evaluation mode, nor with ncps's
default single backbone layer (ncps never puts it after the first), so trajlen has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._xp import erf, logistic, maximum, tanh
from .._xp import exp as _exp
from .._xp import namespace as array_namespace

__all__ = ["NAME", "MODES", "ACTIVATIONS", "BACKBONE_UNITS", "BACKBONE_LAYERS", "CfcParams", "sample",
           "step", "run", "from_ncps", "to_ncps", "activation"]

NAME = "cfc"
MODES = ("default", "no_gate", "pure")
#: the backbone activations of ncps's CfCCell, its default first
ACTIVATIONS = ("lecun_tanh", "tanh", "relu", "silu", "gelu")
BACKBONE_UNITS = 128
BACKBONE_LAYERS = 1
N_INPUTS = 2
#: ncps's LeCun tanh, ``1.7159 tanh(0.666 x)`` (0.666 as the code has it, not 2/3)
LECUN = (1.7159, 0.666)


def activation(name: str, x):
    """The backbone activation ``name`` of ``x`` (numpy or torch; gelu is torch's exact, erf form)."""
    if name == "lecun_tanh":
        return LECUN[0] * tanh(LECUN[1] * x)
    if name == "tanh":
        return tanh(x)
    if name == "relu":
        return maximum(x, 0.0)
    if name == "silu":
        return x * logistic(x)
    if name == "gelu":
        return x * 0.5 * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))
    raise ValueError(f"cfc activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}")


def _heads(mode: str) -> tuple[str, ...]:
    return ("ff1",) if mode == "pure" else ("ff1", "ff2", "time_a", "time_b")


@dataclass(frozen=True)
class CfcParams:
    """One CfC's parameters, float64, weights ``(out, in)`` as torch stores them.

    ``tensors``: ``backbone_{i}_weight (U, in_i)``, ``backbone_{i}_bias (U,)`` for each backbone layer
    i (``in_0 = 2 + k``, else U); ``{head}_weight (k, c)``, ``{head}_bias (k,)`` for the heads of the
    mode (c = U, or 2 + k without a backbone); ``w_tau (1, k)``, ``A (1, k)`` in ``pure`` mode.
    ``mode``, ``activation``: as ncps's CfCCell's.
    """

    tensors: dict[str, np.ndarray] = field(hash=False)
    mode: str = "default"
    activation: str = "lecun_tanh"

    MODEL = NAME

    @property
    def width(self) -> int:
        return self.tensors["ff1_bias"].shape[0]

    @property
    def depth(self) -> int:
        return 1

    @property
    def backbone_layers(self) -> int:
        return sum(1 for n in self.tensors if n.startswith("backbone_") and n.endswith("_weight"))

    @property
    def backbone_units(self) -> int:
        return self.tensors["backbone_0_bias"].shape[0] if self.backbone_layers else BACKBONE_UNITS

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(self.tensors)

    def meta(self) -> dict[str, str]:
        """What the arrays do not say (saved beside them in a ``.npz``)."""
        return {"mode": self.mode, "activation": self.activation}

    def spec_fields(self) -> dict[str, Any]:
        """The NetworkSpec fields these parameters fix."""
        return dict(model=NAME, width=self.width, depth=1, cfc_mode=self.mode, activation=self.activation,
                    backbone_units=self.backbone_units, backbone_layers=self.backbone_layers)

    def check(self, source: str) -> CfcParams:
        k, L = self.width, self.backbone_layers
        if self.mode not in MODES or self.activation not in ACTIVATIONS:
            raise ValueError(f"{source}: mode {self.mode!r} / activation {self.activation!r} unknown")
        want = _shapes(k, self.backbone_units, L, self.mode)
        if set(want) != set(self.tensors):
            raise ValueError(f"{source}: cfc arrays must be {', '.join(sorted(want))}, got "
                             f"{', '.join(sorted(self.tensors))}")
        for name, shape in want.items():
            a = self.tensors[name]
            if a.shape != shape or not np.all(np.isfinite(a)):
                raise ValueError(f"{source}: array {name} must be finite of shape {shape}, got {a.shape}")
        return self


def _shapes(k: int, units: int, layers: int, mode: str) -> dict[str, tuple[int, ...]]:
    """Every array of a CfC of k units (torch layout), in ncps's parameter order."""
    out: dict[str, tuple[int, ...]] = {}
    fan = N_INPUTS + k
    for i in range(layers):
        out[f"backbone_{i}_weight"], out[f"backbone_{i}_bias"] = (units, fan), (units,)
        fan = units
    for h in _heads(mode):
        out[f"{h}_weight"], out[f"{h}_bias"] = (k, fan), (k,)
    if mode == "pure":
        out["w_tau"], out["A"] = (1, k), (1, k)
    return out


def sample(width: int, mode: str, act: str, units: int, layers: int,
           rng: np.random.Generator) -> CfcParams:
    """ncps's default CfC initialisation (module docstring), drawn from ``rng`` in ncps's parameter
    order."""
    t = {}
    for name, shape in _shapes(width, units, layers, mode).items():
        if len(shape) == 2:   # xavier_uniform_: fan_in = shape[1], fan_out = shape[0]
            bound = math.sqrt(6.0 / (shape[0] + shape[1]))
        else:                 # a Linear's bias: U(±1/√fan_in), fan_in = its weight's columns
            bound = 1.0 / math.sqrt(t[name.replace("_bias", "_weight")].shape[1])
        t[name] = rng.uniform(-bound, bound, shape)
    return CfcParams(t, mode, act)


def _linear(x, W, b):
    return x @ W.swapaxes(-1, -2) + b


def step(tensors: dict[str, Any], mode: str, act: str, I, h, dt):
    """One CfC update ``h' = CfC(I, h, Δt)`` for a batch: ``I (B, 2)``, ``h (B, k)``, ``dt`` a float or
    ``(B, 1)``; ``tensors`` as in :class:`CfcParams` (numpy or torch, no batch axis)."""
    xp = array_namespace(h)
    z = xp.concat([I, h], axis=-1)
    i = 0
    while f"backbone_{i}_weight" in tensors:
        z = activation(act, _linear(z, tensors[f"backbone_{i}_weight"], tensors[f"backbone_{i}_bias"]))
        i += 1
    ff1 = _linear(z, tensors["ff1_weight"], tensors["ff1_bias"])
    if mode == "pure":
        A = tensors["A"]
        return -A * _exp(-dt * (abs(tensors["w_tau"]) + abs(ff1))) * ff1 + A
    ff2 = tanh(_linear(z, tensors["ff2_weight"], tensors["ff2_bias"]))
    ff1 = tanh(ff1)
    s = logistic(_linear(z, tensors["time_a_weight"], tensors["time_a_bias"]) * dt
                 + _linear(z, tensors["time_b_weight"], tensors["time_b_bias"]))
    if mode == "no_gate":
        return ff1 + s * ff2
    return ff1 * (1.0 - s) + s * ff2


def run(params: CfcParams, inputs: np.ndarray, dt: float) -> np.ndarray:
    """Hidden states ``(T, k)`` from ``h = 0`` over input samples ``inputs (T, 2)``: row 0 is h(0) = 0
    and row m + 1 is ``CfC(inputs[m], row m, dt)`` (the last input sample is not read)."""
    h = np.zeros((1, params.width))
    out = [h[0]]
    for m in range(len(inputs) - 1):
        h = step(params.tensors, params.mode, params.activation, inputs[m:m + 1], h, dt)
        out.append(h[0])
    return np.array(out)


_ACT_CLASSES = {"LeCun": "lecun_tanh", "Tanh": "tanh", "ReLU": "relu", "SiLU": "silu", "GELU": "gelu"}


def from_ncps(module: Any) -> CfcParams:
    """The parameters of an ncps ``CfC`` (its ``rnn_cell``; a ``proj_size`` readout is not part of
    the state and is left out) or ``CfCCell``; a sparsity mask is folded into ff1's and ff2's weights."""
    from ..spec import SpecError

    cell = getattr(module, "rnn_cell", module)
    if getattr(module, "use_mixed", False) or type(cell).__name__ != "CfCCell":
        raise SpecError("only a plain ncps CfC (mixed_memory=False, units an int: a CfCCell) can be "
                        f"measured, got {type(cell).__name__}"
                        + (" with mixed_memory" if getattr(module, "use_mixed", False) else ""))
    if cell.input_size != N_INPUTS:
        raise SpecError(f"the ncps CfC has {cell.input_size} input features; trajlen drives it with "
                        f"the {N_INPUTS}-D circle (sin t, cos t)")
    f64 = lambda v: v.detach().double().cpu().numpy().copy()  # noqa: E731
    t: dict[str, np.ndarray] = {}
    act = "lecun_tanh"
    linears = [m for m in (cell.backbone or ()) if type(m).__name__ == "Linear"]
    for i, lin in enumerate(linears):
        t[f"backbone_{i}_weight"], t[f"backbone_{i}_bias"] = f64(lin.weight), f64(lin.bias)
    for m in cell.backbone or ():
        act = _ACT_CLASSES.get(type(m).__name__, act)
        if type(m).__name__ == "GELU" and m.approximate != "none":
            raise SpecError("an ncps CfC with GELU(approximate='tanh') is not ncps's gelu")
    mask = None if cell.sparsity_mask is None else f64(cell.sparsity_mask)
    for h in _heads(cell.mode):
        lin = getattr(cell, h)
        W = f64(lin.weight)
        t[f"{h}_weight"] = W * mask if mask is not None and h in ("ff1", "ff2") else W
        t[f"{h}_bias"] = f64(lin.bias)
    if cell.mode == "pure":
        t["w_tau"], t["A"] = f64(cell.w_tau), f64(cell.A)
    return CfcParams(t, cell.mode, act).check("ncps CfC")


def to_ncps(params: CfcParams):
    """An ``ncps.torch.CfC`` (float64) holding ``params``."""
    import torch
    from ncps.torch import CfC

    L = params.backbone_layers
    m = CfC(N_INPUTS, params.width, mode=params.mode, activation=params.activation,
            backbone_units=params.backbone_units, backbone_layers=L).double()
    cell = m.rnn_cell
    linears = [x for x in (cell.backbone or ()) if type(x).__name__ == "Linear"]
    with torch.no_grad():
        for name, v in params.tensors.items():
            if name.startswith("backbone_"):
                _, i, kind = name.split("_")
                target = getattr(linears[int(i)], kind)
            elif name in ("w_tau", "A"):
                target = getattr(cell, name)
            else:
                head, kind = name.rsplit("_", 1)
                target = getattr(getattr(cell, head), kind)
            target.copy_(torch.as_tensor(v, dtype=torch.float64))
    return m
