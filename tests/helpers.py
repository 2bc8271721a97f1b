"""The enrolment lists of the test suite (as diffrax's ``test/helpers.py``): every registered model,
activation and method, read from the registries, so that adding one enrols it in the parity, order
and scipy-equality tests without touching them."""

from __future__ import annotations

import itertools

from trajlen.activations import ACTIVATIONS
from trajlen.models import MODEL_EQUATIONS
from trajlen.models import ODE_MODELS as _ODE_MODELS
from trajlen.params import sample_params
from trajlen.solve.registry import CONTROLLERS, METHODS
from trajlen.spec import NetworkSpec

#: every layered continuous-time model (trajlen's φ(uW + b) layers) and every activation
MODELS = tuple(MODEL_EQUATIONS)
#: every model that is an ODE, layered or not (the ncps LTC): what every solver must integrate
ODE_MODELS = _ODE_MODELS
ACTIVATIONS_ALL = tuple(ACTIVATIONS)
#: the activations a NetworkSpec names (hardtanh resolves to MATLAB's Htanh under the reference
#: semantics); with both semantics these cover every activation of the registry
SPEC_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a != "hardtanh_matlab")
SEMANTICS = ("reference", "paper")

#: methods by kind, each a registry entry
EXPLICIT = tuple(m for m in METHODS.values() if m.kind == "explicit")
FIXED = tuple(m for m in METHODS.values() if m.kind == "fixed")
#: the Runge–Kutta methods with a tableau (explicit pairs and fixed-step ones)
TABLEAU_METHODS = tuple(m for m in METHODS.values() if m.tableau is not None)
CONTROLLER_NAMES = CONTROLLERS
TAB = {m.name: m.tableau for m in TABLEAU_METHODS}


def items(semantics, models=MODELS, acts=SPEC_ACTIVATIONS, width=20, samples=(0,), **net_kw):
    """``(NetworkSpec, Params)`` pairs for every model × activation (× samples)."""
    out = []
    for m, a in itertools.product(models, acts):
        net = NetworkSpec(model=m, activation=a, width=width, semantics=semantics, **net_kw)
        out += [(net, sample_params(net, 0, s)) for s in samples]
    return out


def points(res, solver, t_end):
    """``(t, x)`` of a torch-executor row result for ``solver.output`` (as solve_batched builds them)."""
    from trajlen.solve.output import interpolate, output_times

    if solver.output == "steps" or res.Q is None:
        return res.step_t, res.step_y
    t = output_times(res.step_t, solver.output, solver.refine, solver.grid_points, t_end)
    return t, interpolate(res.step_t, res.step_y, res.Q, t)
