"""Lyapunov exponents (trajlen.lyapunov): exact on linear flows, a zero exponent on a limit cycle, the
onset of chaos of the Sompolinsky–Crisanti–Sommers network, agreement with the direct two-trajectory
estimate, Lorenz's spectrum, and the rows' ``lyap``/``lyap_max`` columns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trajlen.lyapunov import exponents, lambda_max_two_trajectories
from trajlen.models import field_for
from trajlen.params import Params, sample_params
from trajlen.pipeline import Task, run_tasks
from trajlen.spec import InputSpec, NetworkSpec, SpecError, make_specs
from trajlen.sweep import main
from trajlen.user import UserODE


def _ode_field(f, n, jac):
    return field_for(NetworkSpec(model="ode", width=n), InputSpec(semantics="paper"), UserODE(f, n, jac))


def _autonomous_ctrnn(width, g, sample=0, W_r=None):
    """``dx/dt = −x + tanh(x W_r)``: the paper-semantics CT-RNN with τ = 1, zero biases and the input
    weights zeroed (the input off). With ``W_r ~ N(0, g²/k)`` it is the SCS network in ``y = x W_r``
    (``dy/dt = −y + W_rᵀ tanh y``), whose exponents are the same (a linear change of variables)."""
    net = NetworkSpec(model="ctrnn", activation="tanh", width=width, semantics="paper", sigma_w2=g * g)
    p = sample_params(net, 0, sample).arrays()
    p.update(tau=np.ones_like(p["tau"]), b=np.zeros_like(p["b"]), W=np.zeros_like(p["W"]))
    if W_r is not None:
        p["W_r"] = np.asarray(W_r, dtype=np.float64)[None]
    return field_for(net, InputSpec(semantics="paper"), Params(**p))


def test_linear_flow_exponents_are_its_eigenvalues_real_parts():
    """A rotation block with decay 0.3 and a decay of 1: exponents (−0.3, −0.3, −1) once the tangent
    vectors have aligned (a transient: the initial misalignment biases finite spans by O(1)/T); their
    sum is the trace on any span."""
    A = np.array([[-0.3, -2.0, 0.0], [2.0, -0.3, 0.0], [0.0, 0.0, -1.0]])
    F = _ode_field(lambda t, x, I: A @ x, 3, lambda t, x, I: A)
    lam = exponents(F, np.ones(3), 0.0, 40.0, 3, transient=15.0, qr_interval=0.5).exponents
    np.testing.assert_allclose(lam, [-0.3, -0.3, -1.0], atol=1e-4)
    assert exponents(F, np.ones(3), 0.0, 3.0, 3).exponents.sum() == pytest.approx(-1.6, abs=1e-7)


def test_limit_cycle_has_one_zero_exponent():
    """Two units, ``W_r = 1.5·(rotation by 45°)``·√2: the origin is an unstable spiral and the orbit a
    stable limit cycle — exponents (0, < 0)."""
    W_r = np.array([[1.5, 1.5], [-1.5, 1.5]])
    F = _autonomous_ctrnn(2, 1.0, W_r=W_r)
    lam = exponents(F, np.array([0.1, 0.0]), 0.0, 160.0, 2, transient=40.0, qr_interval=0.5).exponents
    assert abs(lam[0]) < 5e-3 and lam[1] < -0.1, lam


@pytest.mark.slow
def test_scs_onset_of_chaos_and_two_trajectories():
    """k = 200: λ_max < 0 at g = 0.8, > 0 at g = 1.5 (a chaotic network, sample 1), and the Jacobian's
    λ_max within 5 % of the direct two-trajectory estimate on the same orbit."""
    y0 = np.random.default_rng(1).standard_normal(200)
    kw = dict(transient=50.0, qr_interval=1.0, rtol=1e-6, atol=1e-8)
    lam_low = exponents(_autonomous_ctrnn(200, 0.8, 1), y0, 0.0, 150.0, 1, **kw).exponents[0]
    F = _autonomous_ctrnn(200, 1.5, 1)
    lam_high = exponents(F, y0, 0.0, 150.0, 1, **kw).exponents[0]
    direct = lambda_max_two_trajectories(F, y0, 0.0, 150.0, transient=50.0, interval=1.0)
    assert lam_low < -0.1 and lam_high > 0.005, (lam_low, lam_high)
    assert direct == pytest.approx(lam_high, rel=0.05)


@pytest.mark.slow
def test_lorenz_spectrum():
    """Lorenz (σ = 10, ρ = 28, β = 8/3), a chaotic autonomous flow: (0.906, 0, −14.57); the sum is the
    trace −(σ + 1 + β) exactly."""
    s, r, b = 10.0, 28.0, 8.0 / 3.0

    def f(t, x, I):
        return np.array([s * (x[1] - x[0]), x[0] * (r - x[2]) - x[1], x[0] * x[1] - b * x[2]])

    def jac(t, x, I):
        return np.array([[-s, s, 0.0], [r - x[2], -1.0, -x[0]], [x[1], x[0], -b]])

    lam = exponents(_ode_field(f, 3, jac), np.array([1.0, 1.0, 20.0]), 0.0, 210.0, 3, transient=10.0,
                    qr_interval=0.5).exponents
    assert lam[0] == pytest.approx(0.906, abs=0.06) and abs(lam[1]) < 0.03
    assert lam.sum() == pytest.approx(-(s + 1 + b), abs=2e-3)


def test_rows_carry_the_exponents(tmp_path, capsys):
    net, inp, sol = make_specs("paper", model="ltc", activation="tanh", width=8, lyapunov=3)
    row = run_tasks([Task(net, inp, sol, 0, 2)])[0]
    assert row["lyapunov"] == 3 and len(row["lyap"]) == 3 and row["lyap_max"] == row["lyap"][0]
    assert list(row["lyap"]) == sorted(row["lyap"], reverse=True)
    base = run_tasks([Task(net, inp, sol.replace(lyapunov=0), 0, 2)])[0]
    assert base["lyap"] is None and base["lyap_max"] is None and base["length"] == row["length"]
    with pytest.raises(SpecError, match="lyapunov"):
        make_specs("paper", model="cfc", width=8, lyapunov=1)
    with pytest.raises(SpecError, match="at most the 8 states"):
        make_specs("paper", model="ltc", width=8, lyapunov=9)
    assert main(["--lyapunov", "-1", "--dry-run", "--out", str(tmp_path / "s")]) == 2
    assert "lyapunov" in capsys.readouterr().err
    # a mixed sweep: the ODE's rows carry exponents, the CfC's (a map: no vector field) null
    assert main(["--lyapunov", "2", "--width", "4", "--samples", "1", "--model", "ltc", "cfc", "--jobs",
                 "1", "--quiet", "--out", str(tmp_path / "mix")]) == 0
    mix = __import__("pandas").read_parquet(tmp_path / "mix" / "results.parquet").set_index("model")
    assert math.isfinite(mix.loc["ltc", "lyap_max"]) and len(mix.loc["ltc", "lyap"]) == 2
    assert mix.loc["cfc", "lyap"] is None and math.isnan(mix.loc["cfc", "lyap_max"])
    assert main(["--lyapunov", "2", "--width", "6", "--samples", "1", "--model", "ctrnn", "--jobs", "1",
                 "--quiet", "--out", str(tmp_path / "s")]) == 0
    assert math.isfinite(__import__("pandas").read_parquet(tmp_path / "s" / "results.parquet")
                         ["lyap_max"].iloc[0])


def test_exponents_count_the_measured_period_after_a_transient():
    """With a transient T the row's exponents are those of [T, T + 2π] of the solve from x(0) = 0:
    the transient integrated, not counted (as the length measures that period only)."""
    net, inp, sol = make_specs("paper", model="ctrnn", activation="tanh", width=6, lyapunov=2,
                               transient=3.0)
    row = run_tasks([Task(net, inp, sol, 0, 1)])[0]
    field = field_for(net, inp, sample_params(net, 0, 1))
    want = exponents(field, np.zeros(6), 0.0, 3.0 + 2 * np.pi, 2, transient=3.0).exponents
    whole = exponents(field, np.zeros(6), 0.0, 3.0 + 2 * np.pi, 2).exponents
    np.testing.assert_array_equal(row["lyap"], want)
    assert not np.allclose(want, whole, rtol=1e-3, atol=0)
