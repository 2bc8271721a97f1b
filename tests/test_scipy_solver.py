import numpy as np
import pytest
from scipy.integrate import solve_ivp

from trajlen.models import VectorField
from trajlen.params import Params, sample_params
from trajlen.pipeline import Task, measure, trajectory_for
from trajlen.solve.scipy_ivp import solve_scipy
from trajlen.spec import make_specs


def _net(model="ltc", act="relu", width=15, **kw):
    net, inp, sol = make_specs("reference", model=model, activation=act, width=width, **kw)
    return net, inp, sol, sample_params(net, 0, 2)


@pytest.mark.parametrize("method", ["RK23", "RK45", "DOP853", "BDF", "Radau", "LSODA"])
def test_steps_equal_solve_ivp(method):
    net, inp, sol, p = _net(method=method, output="steps")
    F = VectorField.from_params(net, inp, p)
    kw = {}
    if method in ("BDF", "Radau", "LSODA"):
        kw["jac"] = lambda t, y: F.jacobian(np.array([t]), y[None])[0]
    ref = solve_ivp(lambda t, y: F(np.array([t]), y[None])[0], (0, inp.t_end), np.zeros(net.n_state),
                    method=method, rtol=sol.rtol, atol=sol.atol, **kw)
    traj = solve_scipy(net, p, inp, sol)
    assert traj.ok
    np.testing.assert_array_equal(traj.step_t, ref.t)
    np.testing.assert_array_equal(traj.x, ref.y.T)
    assert traj.nfev == ref.nfev
    if method in ("RK23", "RK45", "DOP853"):
        stages = {"RK23": 3, "RK45": 6, "DOP853": 12}[method]
        assert traj.nfev == 2 + stages * (traj.n_accepted + traj.n_rejected)
    else:
        assert traj.n_rejected == -1 and traj.njev == ref.njev


def test_refine_points_interleave_steps():
    net, inp, sol, p = _net(output="refine", refine=4)
    traj = solve_scipy(net, p, inp, sol)
    steps = solve_scipy(net, p, inp, sol.replace(output="steps"))
    assert len(traj.t) == 1 + 4 * steps.n_accepted
    np.testing.assert_array_equal(traj.t[::4], steps.step_t)
    np.testing.assert_array_equal(traj.x[::4], steps.x)
    assert np.all(np.diff(traj.t) > 0)


def test_grid_output_and_length_converge_with_tolerance():
    net, inp, sol, p = _net(model="ctrnn", act="tanh", output="grid", grid_points=2001)
    lengths = []
    for rtol in (1e-5, 1e-7, 1e-9):
        task = Task(net, inp, sol.replace(rtol=rtol, atol=rtol * 1e-2))
        row = measure(task, trajectory_for(task, p), 0.0)
        lengths.append(row["length"])
    assert abs(lengths[1] - lengths[2]) < abs(lengths[0] - lengths[2]) + 1e-12
    assert lengths[1] == pytest.approx(lengths[2], rel=1e-4)


def test_step_budget_is_a_recorded_failure():
    net, inp, sol, p = _net(max_steps=5)
    traj = solve_scipy(net, p, inp, sol)
    assert traj.status == "step_budget" and "budget" in traj.message
    row = measure(Task(net, inp, sol), traj, 0.0)
    assert row["status"] == "step_budget" and np.isnan(row["length"])


def test_blow_up_is_a_recorded_failure():
    net, inp, sol, p = _net(model="ctrnn", act="tanh", width=4)
    p = Params(**{**p.arrays(), "tau": -0.005 * np.ones_like(p.tau)})  # x grows like e^{200 t}
    traj = solve_scipy(net, p, inp, sol)
    assert traj.status in ("non_finite", "step_size_underflow")
    assert traj.t[-1] < inp.t_end


def test_time_limit_is_a_recorded_failure():
    net, inp, sol, p = _net(width=50, rtol=1e-10, atol=1e-12, max_seconds=0.05)
    traj = solve_scipy(net, p, inp, sol)
    assert traj.status == "time_limit"
