"""ros23w and RK45+ros23w (trajlen.solve.compiled): ode23s's Rosenbrock pair as a W-method with the
diagonal Jacobian, and RK45 that switches to it when Hairer's stiffness test fires. Held to the
analytic Jacobian, to its convergence order with *any* diagonal matrix (the W-formula property the
method relies on), to tight explicit solves, and to RK45 itself where a network is not stiff."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.integrate as si

from tests.helpers import ACTIVATIONS_ALL as ACTS
from tests.helpers import MODELS
from trajlen.measures import layer_measures
from trajlen.models import VectorField
from trajlen.params import sample_params
from trajlen.solve.compiled import jac_diag_one, solve_compiled
from trajlen.solve.compiled.field import rhs
from trajlen.solve.compiled.pack import pack_field
from trajlen.solve.compiled.rosenbrock import ros_step
from trajlen.spec import InputSpec, NetworkSpec, SolverSpec, SpecError


def solver(method="RK45+ros23w", **kw):
    kw.setdefault("controller", "scipy")
    kw.setdefault("output", "grid")
    kw.setdefault("grid_points", 1001)
    return SolverSpec(backend="numba", method=method, **kw)


def tight(**kw):
    return solver("RK45", rtol=1e-10, atol=1e-12, max_steps=5_000_000, **kw)


def length(tr):
    assert tr.ok, tr.message
    return layer_measures(tr.x)["length"]


def stiff_ctrnn(tau_min=1e-4, width=20, sample=0):
    """A paper-semantics CT-RNN with one unit's τ set to ``tau_min``: RK45 is stability-bound to
    steps of a few τ_min, while the trajectory itself moves on the scale of the other units."""
    net = NetworkSpec(model="ctrnn", activation="tanh", width=width, semantics="paper")
    p = sample_params(net, 0, sample)
    p.tau[0, 0] = tau_min
    return net, p


@pytest.mark.parametrize("semantics", ["reference", "paper"])
@pytest.mark.parametrize("depth", [1, 2])
def test_jacobian_diagonal_equals_vector_field(semantics, depth):
    """The kernel's diagonal is VectorField.jacobian's (every model × activation, gate or shared)."""
    rng = np.random.default_rng(5)
    inp = InputSpec(semantics=semantics)
    for m, a in itertools.product(MODELS, ACTS):
        net = NetworkSpec(model=m, activation=a, width=10, depth=depth, semantics=semantics)
        p = sample_params(net, 0, 1)
        field = VectorField.from_params(net, inp, p)
        for _ in range(3):
            y = rng.standard_normal(net.n_state) * 1.5
            t = rng.uniform(0.0, inp.t_end)
            ref = np.diag(field.jacobian(np.array([t]), y[None])[0])
            np.testing.assert_allclose(jac_diag_one(net, inp, p, t, y), ref, rtol=1e-12,
                                       atol=1e-12 * max(1.0, np.abs(ref).max()), err_msg=f"{m}/{a}")


@pytest.mark.parametrize("scale", [1.0, 0.0, 3.0])
def test_second_order_with_any_diagonal_matrix(scale):
    """Fixed steps of the formula on a coupled network (its Jacobian is far from diagonal) converge
    at order 2 whether W uses the true diagonal (scale 1), no Jacobian at all (0) or a wrong one
    (3): the W-formula property that lets ros23w skip the k × k LU."""
    net = NetworkSpec(model="ltc", activation="tanh", width=8, semantics="paper")
    inp = InputSpec(semantics="paper")
    p = sample_params(net, 0, 2)
    field = VectorField.from_params(net, inp, p)
    fld = pack_field(net, inp, p)
    y0 = 0.5 * np.random.default_rng(0).standard_normal(net.n_state)
    t_end = 1.0
    ref = si.solve_ivp(lambda t, y: field(np.array([t]), y[None])[0], (0, t_end), y0, method="DOP853",
                       rtol=1e-13, atol=1e-13).y[:, -1]
    n = net.n_state
    errs = []
    for steps in (32, 64, 128, 256):
        h = t_end / steps
        y = y0.copy()
        F0, T = np.empty(n), np.empty(n)
        work = np.empty((6, n))       # y_new, F1, F2, k1, k2, k3
        for i in range(steps):
            t = i * h
            rhs(t, y, F0, fld)
            d = 1e-7
            rhs(t + d, y, T, fld)
            T = (T - F0) / d
            jd = scale * jac_diag_one(net, inp, p, t, y)
            ros_step(fld, t, h, t + h, y, F0, T, jd, work)
            y = work[0].copy()
        errs.append(np.abs(y - ref).max())
    orders = np.log2(np.asarray(errs[:-1]) / np.asarray(errs[1:]))
    assert np.all((orders[1:] > 1.8) & (orders[1:] < 2.3)), (errs, orders)   # asymptotic regime


def test_not_stiff_means_rk45_exactly():
    """Where the stiffness test never fires, RK45+ros23w is RK45: same steps, same points."""
    inp = InputSpec(semantics="paper")
    for a in ACTS[:4]:
        net = NetworkSpec(model="node", activation=a, width=20, semantics="paper")
        p = sample_params(net, 0, 0)
        hy = solve_compiled([(net, p)], inp, solver())[0]
        rk = solve_compiled([(net, p)], inp, solver("RK45"))[0]
        assert "stiff" not in hy.message and hy.njev == 0
        assert hy.nfev == rk.nfev and np.array_equal(hy.x, rk.x)


@pytest.mark.parametrize("controller", ["scipy", "matlab"])
def test_stiff_network_switches_and_keeps_its_length(controller):
    """τ_min = 1e-4: RK45 needs tens of thousands of RHS evaluations; the switch cuts them by > 10×
    and the length stays within 1 % of a tight RK45 solve (RK45 at the same tolerance: < 1e-3)."""
    net, p = stiff_ctrnn()
    inp = InputSpec(semantics="paper")
    truth = length(solve_compiled([(net, p)], inp, tight())[0])
    rk, hy, ros = solve_compiled([(net, p)], inp, solver("RK45", controller=controller)) + \
        solve_compiled([(net, p)], inp, solver(controller=controller)) + \
        solve_compiled([(net, p)], inp, solver("ros23w", controller=controller))
    assert "stiff from t=" in hy.message and hy.njev > 0
    assert hy.nfev * 10 < rk.nfev and ros.nfev * 10 < rk.nfev
    for tr in (rk, hy, ros):
        assert length(tr) == pytest.approx(truth, rel=1e-2)
    assert "stiff" not in ros.message   # ros23w alone never switches
    on_steps = np.isin(hy.t, hy.step_t)     # grid times that are step ends carry the step's state
    assert np.all(np.isfinite(hy.x)) and hy.t[-1] == pytest.approx(inp.t_end)
    assert on_steps.sum() >= 1


def _within_rk45_error(net, p, inp):
    """RK45+ros23w's grid length is as close to a tight solve's as RK45's own at the same tolerance
    (rtol 1e-2 leaves some reference networks ~1e-2 off whatever the solver): within 1 %, or 1.5×
    RK45's error where that is larger."""
    hy, rk, ref = (solve_compiled([(net, p)], inp, s)[0] for s in (solver(), solver("RK45"), tight()))
    truth = length(ref)
    e_hy, e_rk = abs(length(hy) / truth - 1), abs(length(rk) / truth - 1)
    assert e_hy <= max(1e-2, 1.5 * e_rk), (net.model, net.activation, e_hy, e_rk, hy.message)
    return hy


def test_figure_lengths_within_tolerance_on_a_mixed_batch():
    """Both semantics, every model × activation."""
    for sem in ("paper", "reference"):
        inp = InputSpec(semantics=sem)
        for m, a in itertools.product(MODELS, ACTS[:4]):
            net = NetworkSpec(model=m, activation=a, width=20, semantics=sem)
            _within_rk45_error(net, sample_params(net, 0, 3), inp)


def test_hands_back_to_rk45_where_ros23w_is_slower():
    """A reference LTC with relu is flagged stiff, but ros23w's steps there turn out short: it hands
    back to RK45, says so, and the length stays within RK45's own error."""
    net = NetworkSpec(model="ltc", activation="relu", width=20, semantics="reference")
    hy = _within_rk45_error(net, sample_params(net, 0, 0), InputSpec(semantics="reference"))
    assert "then RK45 again" in hy.message, hy.message


def test_no_switch_with_matlab_hardtanh():
    """MATLAB's layer-wise hard-tanh makes the RHS jump; RK45+ros23w stays RK45 there."""
    net = NetworkSpec(model="ltc", activation="hardtanh_matlab", width=20, semantics="reference")
    p = sample_params(net, 0, 0)
    inp = InputSpec(semantics="reference")
    hy, rk = (solve_compiled([(net, p)], inp, s)[0] for s in (solver(), solver("RK45")))
    assert "stiff" not in hy.message and np.array_equal(hy.x, rk.x)


def test_failures_are_rows():
    inp = InputSpec(semantics="paper")
    net, p = stiff_ctrnn()
    short = solve_compiled([(net, p)], inp, solver("ros23w", max_steps=5))[0]
    assert short.status == "step_budget" and short.n_accepted + short.n_rejected == 5
    big = NetworkSpec(model="node", activation="relu", width=20, semantics="paper")
    pb = sample_params(big, 0, 0)
    pb.W_r[0] = 300.0 * np.eye(20)
    pb.b[:] = 1.0
    for method in ("ros23w", "RK45+ros23w"):
        res = solve_compiled([(big, pb), (net, p)], inp, solver(method))
        assert res[0].status in ("non_finite", "step_size_underflow"), res[0].message
        assert res[1].ok


def test_steps_and_refine_outputs():
    """Solver points and Refine points come from the same records (step ends exact)."""
    net, p = stiff_ctrnn(width=10)
    inp = InputSpec(semantics="paper")
    st = solve_compiled([(net, p)], inp, solver("ros23w", output="steps"))[0]
    rf = solve_compiled([(net, p)], inp, solver("ros23w", output="refine", refine=4))[0]
    assert len(rf.t) == 4 * (len(st.t) - 1) + 1
    np.testing.assert_array_equal(rf.x[::4], st.x)


def test_spec():
    assert SolverSpec(method="ros23w").backend == "numba"
    assert SolverSpec(method="RK45+ros23w", semantics="paper").backend == "numba"
    with pytest.raises(SpecError, match="scipy"):
        SolverSpec(backend="scipy", method="ros23w")
    with pytest.raises(SpecError, match="torch"):
        SolverSpec(method="ros23w", device="cuda")
    assert SolverSpec(method="RK45+ros23w", max_seconds=5.0).backend == "numba"
    with pytest.raises(SpecError, match="max_seconds"):
        SolverSpec(method="RK45", backend="torch", max_seconds=5.0)
