"""Pipeline stage 1 (parameters) — to and from the ``ncps`` library's torch modules (the ``[ncps]``
extra; imported only here, on first use).

:func:`from_ncps` reads an ncps ``LTC``/``LTCCell`` (or, see :mod:`trajlen.models.cfc`, a ``CfC``/
``CfCCell``) into trajlen's parameters of the same model, so a trained network is measured with
trajlen's solvers; :func:`to_ncps` builds the ncps module of trajlen parameters (e.g. a random
network of trajlen's draw), so trained and random networks can be compared on one architecture.
The two round-trip (``from_ncps(to_ncps(p)) == p`` to round-off). ncps 1.0.1's names are kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .models import ltc_ncps as L
from .spec import SpecError

__all__ = ["from_ncps", "to_ncps", "ncps_kind", "NCPS_EXTRA"]

NCPS_EXTRA = "pip install 'trajlen[ncps]'"
#: trajlen's field name → ncps's parameter name, where they differ
_LTC_NAMES = {"mask": "sparsity_mask", "sensory_mask": "sensory_sparsity_mask"}


def _ncps():
    try:
        import ncps.torch as nt
        import ncps.wirings as nw
        import torch
    except ImportError as e:
        raise SpecError(f"ncps (and torch) are needed here: {NCPS_EXTRA} ({e})") from None
    return torch, nt, nw


def ncps_kind(module: Any) -> str | None:
    """``"ltc_ncps"`` or ``"cfc"`` for an ncps LTC/CfC (wrapper or cell), else None. Never imports
    ncps (a module that is one has been imported already)."""
    name = type(module).__name__
    if not type(module).__module__.startswith("ncps."):
        return None
    return {"LTC": "ltc_ncps", "LTCCell": "ltc_ncps", "CfC": "cfc", "CfCCell": "cfc"}.get(name)


def _ltc_cell(module: Any):
    cell = getattr(module, "rnn_cell", module)
    if getattr(module, "use_mixed", False):
        raise SpecError("an ncps LTC with mixed_memory=True (an LSTM before each step) is not an "
                        "ODE trajlen can integrate; use mixed_memory=False")
    return cell


def _ltc_from_ncps(module: Any) -> L.LtcNcpsParams:
    import torch

    cell = _ltc_cell(module)
    if cell.sensory_size != L.N_INPUTS:
        raise SpecError(f"the ncps LTC has {cell.sensory_size} input features; trajlen drives it with "
                        f"the {L.N_INPUTS}-D circle (sin t, cos t)")
    P = cell._params
    motor = cell.motor_size
    with torch.no_grad():
        def get(name, positive=False):
            v = cell.make_positive_fn(P[name]) if positive else P[name]
            return v.detach().to(torch.float64).cpu().numpy().copy()

        d = {f: get(_LTC_NAMES.get(f, f), f in L.POSITIVE) for f in
             ("gleak", "vleak", "cm", "w", "sigma", "mu", "erev", "mask", "sensory_w", "sensory_sigma",
              "sensory_mu", "sensory_erev", "sensory_mask")}
        d["input_w"] = get("input_w") if "input_w" in P else np.ones(L.N_INPUTS)
        d["input_b"] = get("input_b") if "input_b" in P else np.zeros(L.N_INPUTS)
        d["output_w"] = get("output_w") if "output_w" in P else np.ones(motor)
        d["output_b"] = get("output_b") if "output_b" in P else np.zeros(motor)
    try:
        return L.LtcNcpsParams(**d).check("ncps LTC")
    except ValueError as e:
        raise SpecError(str(e)) from None


def _ltc_to_ncps(p: L.LtcNcpsParams, implicit_param_constraints: bool):
    torch, nt, nw = _ncps()
    k, motor = p.width, p.output_w.shape[0]
    module = nt.LTC(L.N_INPUTS, nw.FullyConnected(k, output_dim=motor),
                    implicit_param_constraints=implicit_param_constraints).double()
    P = module.rnn_cell._params
    with torch.no_grad():
        for name, value in p.arrays().items():
            if implicit_param_constraints and name in L.POSITIVE:
                value = L.softplus_inv(value)
            P[_LTC_NAMES.get(name, name)].copy_(torch.as_tensor(value, dtype=torch.float64))
    return module


def from_ncps(module: Any):
    """trajlen's parameters of an ncps module: :class:`~trajlen.models.ltc_ncps.LtcNcpsParams` of an
    ``LTC``/``LTCCell`` (effective values: the module's own softplus applied), or
    :class:`~trajlen.models.cfc.CfcParams` of a ``CfC``/``CfCCell``. Float64 copies; the module is
    not changed. Raises :class:`SpecError` for anything else, or a module trajlen cannot drive with
    its 2-D input."""
    kind = ncps_kind(module)
    if kind == "ltc_ncps":
        return _ltc_from_ncps(module)
    if kind == "cfc":
        from .models import cfc

        return cfc.from_ncps(module)
    raise SpecError(f"{type(module).__module__}.{type(module).__name__} is not an ncps LTC, LTCCell, "
                    "CfC or CfCCell")


def to_ncps(params: Any, implicit_param_constraints: bool = True):
    """The ncps module of trajlen parameters, float64: an ``ncps.torch.LTC`` (2 inputs, a fully
    connected wiring whose masks and reversal potentials are the parameters') or an
    ``ncps.torch.CfC``.

    ``implicit_param_constraints`` (LTC): True, ncps's default, stores softplus⁻¹ of the positive
    parameters so that the module's run-time softplus gives them back; False stores them as they are.
    """
    if isinstance(params, L.LtcNcpsParams):
        return _ltc_to_ncps(params, implicit_param_constraints)
    from .models import cfc

    if isinstance(params, cfc.CfcParams):
        _ncps()
        return cfc.to_ncps(params)
    raise SpecError(f"to_ncps takes ncps-model parameters (ltc_ncps, cfc), got {type(params).__name__}")
