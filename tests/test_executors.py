"""The three executors run the same methods, enrolled from the registry (tests/helpers.py): for every
explicit pair and both controllers the compiled kernel and the torch batch take the same steps and
give the same outputs, and under scipy's rules both take the steps of scipy's own ``OdeSolver`` loop
(scipy's class where scipy has the method; for a pair scipy lacks, scipy's ``RungeKutta`` built from
the pair's tableau)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import EXPLICIT, MODELS, SEMANTICS, SPEC_ACTIVATIONS, items
from trajlen.models import VectorField
from trajlen.solve.batch import solve_batched
from trajlen.solve.compiled import rhs_one, solve_compiled
from trajlen.solve.scipy_ivp import solve_scipy, solver_class
from trajlen.spec import InputSpec, SolverSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = [m.name for m in EXPLICIT]




def _solver(backend, method, **kw):
    return SolverSpec(backend=backend, method=method, semantics="paper", **kw)


@pytest.mark.parametrize("semantics", SEMANTICS)
def test_compiled_field_is_the_vector_field(semantics):
    """Every model × activation of the registries: the kernel's dx/dt is VectorField's."""
    rng = np.random.default_rng(11)
    inp = InputSpec(semantics=semantics)
    for net, p in items(semantics, MODELS, SPEC_ACTIVATIONS, width=9, depth=2):
        field = VectorField.from_params(net, inp, p)
        y = rng.standard_normal(net.n_state) * 2.0
        y[:4] += 3.0
        t = rng.uniform(0.0, inp.t_end)
        ref = field(np.array([t]), y[None])[0]
        np.testing.assert_allclose(rhs_one(net, inp, p, t, y), ref, rtol=1e-12,
                                   atol=1e-12 * np.abs(ref).max(), err_msg=f"{net.model}/{net.phi}")


@pytest.mark.parametrize("method", NAMES)
def test_scipy_rules_take_scipys_steps_on_every_executor(method):
    """Paper semantics, every model × activation: the compiled kernel's and the torch batch's
    accepted steps, rejections and RHS evaluations equal scipy's own loop's."""
    inp = InputSpec(semantics="paper")
    its = items("paper", width=12)
    ref = [solve_scipy(net, p, inp, _solver("scipy", method, output="steps")) for net, p in its]
    nb = solve_compiled(its, inp, _solver("numba", method, controller="scipy", output="steps"))
    tb = solve_batched(its, inp, _solver("torch", method, controller="scipy", output="steps"))
    for (net, _), r, a, b in zip(its, ref, nb, tb):
        label = f"{method} {net.model}/{net.phi}"
        for x in (a, b):
            assert x.status == r.status == "ok", label
            assert (x.n_accepted, x.n_rejected, x.nfev) == (r.n_accepted, r.n_rejected, r.nfev), label
            np.testing.assert_allclose(x.step_t, r.step_t, rtol=0, atol=1e-9, err_msg=label)
            np.testing.assert_allclose(x.x[-1], r.x[-1], rtol=1e-8, atol=1e-10, err_msg=label)


def test_scipy_backend_builds_the_pairs_scipy_lacks():
    """Tsit5 runs on the scipy backend as scipy's RungeKutta with the registry's tableau; built the
    same way, RK45 takes exactly the steps of scipy's own RK45 (the tableau holds scipy's values)."""
    import scipy.integrate as si

    from trajlen.solve.registry import METHODS
    from trajlen.solve.scipy_ivp import _from_tableau

    assert issubclass(solver_class("Tsit5"), si._ivp.rk.RungeKutta)
    ours = _from_tableau(METHODS["RK45"].tableau)
    f = lambda t, y: np.array([y[1], -np.sin(y[0]) + 0.3 * np.cos(t)])  # noqa: E731
    a = si.solve_ivp(f, (0, 20), [1.0, 0.0], method=ours, rtol=1e-6, atol=1e-9)
    b = si.solve_ivp(f, (0, 20), [1.0, 0.0], method="RK45", rtol=1e-6, atol=1e-9)
    assert np.array_equal(a.t, b.t) and a.nfev == b.nfev and np.array_equal(a.y, b.y)


@pytest.mark.parametrize("method", NAMES)
@pytest.mark.parametrize("controller, output", [("scipy", "grid"), ("matlab", "refine")])
def test_compiled_and_torch_agree_step_for_step(method, controller, output):
    """Both controllers, dense output included, on smooth networks of both semantics."""
    for semantics in SEMANTICS:
        inp = InputSpec(semantics=semantics)
        its = items(semantics, models=("node", "ctrnn") if semantics == "reference" else MODELS,
                    acts=("tanh", "sigmoid"), width=12)
        kw = dict(method=method, controller=controller, output=output, refine=4, grid_points=301,
                  semantics=semantics)
        a = solve_compiled(its, inp, SolverSpec(backend="numba", **kw))
        b = solve_batched(its, inp, SolverSpec(backend="torch", **kw))
        for (net, _), x, y in zip(its, a, b):
            label = f"{method} {controller} {semantics} {net.model}/{net.activation}"
            assert (x.n_accepted, x.n_rejected, x.nfev) == (y.n_accepted, y.n_rejected, y.nfev), label
            np.testing.assert_allclose(x.t, y.t, rtol=0, atol=1e-9, err_msg=label)
            np.testing.assert_allclose(x.x, y.x, rtol=1e-9, atol=1e-9 * np.abs(y.x).max(),
                                       err_msg=label)
