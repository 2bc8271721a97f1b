"""The ncps LTC (``model="ltc_ncps"``): its right-hand side is the ncps cell's own, its fused unfolding
is ncps's forward pass, every trajlen solver integrates it, and its draws follow ncps's ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trajlen.inputs import input_at
from trajlen.models import field_for
from trajlen.models import ltc_ncps as L
from trajlen.params import load_params, sample_params, save_params
from trajlen.pipeline import Task, run_tasks
from trajlen.spec import InputSpec, NetworkSpec, SpecError, make_specs

K = 6


def _net(k=K, semantics="reference"):
    return NetworkSpec(model="ltc_ncps", width=k, semantics=semantics)


def _perturbed(p: L.LtcNcpsParams, seed=3) -> L.LtcNcpsParams:
    """ncps's defaults leave the input/output mappings the identity: move them so they are tested."""
    rng = np.random.default_rng(seed)
    d = p.arrays()
    d.update(input_w=1.0 + 0.3 * rng.standard_normal(2), input_b=0.2 * rng.standard_normal(2),
             vleak=d["vleak"] + 0.1 * rng.standard_normal(K))
    return L.LtcNcpsParams(**d)


def test_draws_follow_ncps_ranges():
    p = sample_params(_net(40), 0, 0)
    sp = L.softplus
    for name, (lo, hi) in L.INIT_RANGES.items():
        v = getattr(p, name)
        if name in L.POSITIVE:
            lo, hi = sp(lo), sp(hi)
        assert lo <= v.min() and v.max() <= hi, name
    assert set(np.unique(p.erev)) == {-1.0, 1.0}
    assert abs((p.erev > 0).mean() - 2 / 3) < 0.05
    assert np.all(p.mask == 1) and np.all(p.input_w == 1) and np.all(p.input_b == 0)
    assert not np.array_equal(p.erev, sample_params(_net(40), 0, 1).erev)  # each sample its own E


def test_spec_rules():
    with pytest.raises(SpecError, match="activation with model ltc_ncps"):
        NetworkSpec(model="ltc_ncps", activation="tanh")
    with pytest.raises(SpecError, match="depth"):
        NetworkSpec(model="ltc_ncps", depth=2)
    assert NetworkSpec(model="ltc_ncps").activation == "sigmoid"
    assert NetworkSpec(model="ltc").activation == "tanh"
    with pytest.raises(SpecError, match="ncps_fused"):
        make_specs("paper", model="ltc", method="ncps_fused")


def test_npz_round_trip(tmp_path):
    p = sample_params(_net(), 0, 2)
    save_params(p, tmp_path / "p.npz")
    q = load_params(tmp_path / "p.npz")
    assert isinstance(q, L.LtcNcpsParams)
    for name, v in p.arrays().items():
        np.testing.assert_array_equal(getattr(q, name), v)


def test_jacobian_matches_finite_differences():
    net, inp = _net(), InputSpec()
    F = field_for(net, inp, _perturbed(sample_params(net, 0, 1)))
    y, t = 0.4 * np.random.default_rng(0).standard_normal((1, K)), np.array([0.9])
    J = F.jacobian(t, y)[0]
    eps = 1e-6
    Jn = np.stack([(F(t, y + eps * e) - F(t, y - eps * e))[0] / (2 * eps) for e in np.eye(K)[:, None]],
                  axis=1)
    np.testing.assert_allclose(J, Jn, atol=1e-7 * np.abs(J).max())


def test_numba_and_torch_fields_are_the_numpy_field():
    torch = pytest.importorskip("torch")
    from trajlen.solve.compiled import jac_diag_one, rhs_one

    rng = np.random.default_rng(5)
    for semantics in ("reference", "paper"):
        net, inp = _net(semantics=semantics), InputSpec(semantics=semantics)
        p = _perturbed(sample_params(net, 0, 4))
        F = field_for(net, inp, p)
        Ft = field_for(net, inp, p, xp=torch, dtype=torch.float64)
        y, t = rng.standard_normal(K), rng.uniform(0, 2 * math.pi)
        ref = F(np.array([t]), y[None])[0]
        np.testing.assert_allclose(rhs_one(net, inp, p, t, y), ref, rtol=1e-12, atol=1e-13)
        tt = torch.tensor([t], dtype=torch.float64)
        np.testing.assert_allclose(Ft(tt, torch.tensor(y[None])).numpy()[0], ref, rtol=1e-12,
                                   atol=1e-13)
        np.testing.assert_allclose(jac_diag_one(net, inp, p, t, y),
                                   np.diag(F.jacobian(np.array([t]), y[None])[0]), rtol=1e-12,
                                   atol=1e-13)


def _ncps_cell(p, unfolds, epsilon):
    """An ncps LTCCell holding ``p`` (float64)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("ncps")
    from ncps.torch import LTCCell
    from ncps.wirings import FullyConnected

    from trajlen.params import to_ncps

    cell = LTCCell(FullyConnected(p.width), in_features=2, ode_unfolds=unfolds, epsilon=epsilon,
                   implicit_param_constraints=True).double()
    cell.load_state_dict(to_ncps(p).rnn_cell.state_dict())
    return torch, cell


def test_rhs_equals_the_ncps_cells_own():
    """ncps exposes no RHS; with ode_unfolds=1 and ε = 0 one step of length d is
    ``v0 + d f / (1 + d q)`` (q = leak), so two steps (d = 1, ½) recover f exactly (the notes' identity):
    ``f = δ₁/d₁ + δ₁ (δ₂/d₂ − δ₁/d₁) / (δ₁ − δ₂)``, round-off only."""
    net, inp = _net(), InputSpec()
    p = _perturbed(sample_params(net, 0, 3))
    torch, cell = _ncps_cell(p, 1, 0.0)
    F = field_for(net, inp, p)
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(5):
        t = rng.uniform(0, 2 * math.pi)
        v0 = torch.tensor(rng.standard_normal((1, K)))
        I = torch.tensor(input_at([t], inp))
        with torch.no_grad():
            a = cell(I, v0, 1.0)[1] - v0
            b = cell(I, v0, 0.5)[1] - v0
        f_ncps = (a / 1.0 + a * (b / 0.5 - a / 1.0) / (a - b)).numpy()[0]
        f = F(np.array([t]), v0.numpy())[0]
        worst = max(worst, np.abs(f - f_ncps).max() / np.abs(f).max())
    assert worst < 1e-12, worst


def test_fused_unfolding_is_ncps_forward():
    """ncps_fused on the torch batch = ``ncps.torch.LTC.forward`` on the input samples, at every input
    step (ncps's default 6 unfolds and ε = 1e-8; the input held over each step)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("ncps")
    from trajlen.params import to_ncps
    from trajlen.solve.batch import solve_batched

    for semantics in ("reference", "paper"):
        net, inp, sol = make_specs(semantics, model="ltc_ncps", width=K, method="ncps_fused",
                                   n_samples=40)
        p = _perturbed(sample_params(net, 0, 5))
        traj = solve_batched([(net, p)], inp, sol)[0]
        ts = np.linspace(0, 2 * math.pi, inp.n_samples)
        x = torch.tensor(input_at(ts[:-1], inp))[None]                    # (1, n − 1, 2)
        dt = torch.full((1, len(ts) - 1, 1), inp.dt, dtype=torch.float64)
        with torch.no_grad():
            out, h = to_ncps(p)(x, torch.zeros(1, K, dtype=torch.float64), timespans=dt)
        ours = traj.x[::L.ODE_UNFOLDS]
        np.testing.assert_allclose(traj.t[::L.ODE_UNFOLDS], ts, rtol=0, atol=1e-12)
        # the output mapping is the identity at ncps's init: the readout is the state
        np.testing.assert_allclose(ours[1:], out.numpy()[0], rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours[-1], h.numpy()[0], rtol=0, atol=1e-10)


@pytest.mark.parametrize("backend, method", [("scipy", "RK45"), ("scipy", "Radau"), ("scipy", "LSODA"),
                                             ("numba", "RK45"), ("numba", "RK23"), ("numba", "ros23w"),
                                             ("numba", "RK45+ros23w"), ("torch", "RK45"),
                                             ("torch", "rk4"), ("torch", "fused"),
                                             ("torch", "ncps_fused")])
def test_every_solver_integrates_it(backend, method):
    """Lengths within 3 % of a tight DOP853 solve (ncps_fused, the coarse first-order unfolding at
    6 steps per input step: 10 %)."""
    if backend == "torch":
        pytest.importorskip("torch")
    fixed = method in ("rk4", "fused", "ncps_fused")
    if fixed:
        sol_kw = dict(output="steps", **({} if method == "ncps_fused" else {"dt": 0.01}))
    else:
        sol_kw = dict(output="grid", grid_points=400, rtol=1e-6, atol=1e-8)
    net, inp, ref_sol = make_specs("paper", model="ltc_ncps", width=K, backend="scipy",
                                   method="DOP853", rtol=1e-10, atol=1e-12, output="grid")
    ref = run_tasks([Task(net, inp, ref_sol, 0, 6)])[0]
    net, inp, sol = make_specs("paper", model="ltc_ncps", width=K, backend=backend, method=method,
                               **sol_kw)
    row = run_tasks([Task(net, inp, sol, 0, 6)])[0]
    assert row["status"] == "ok", row["message"]
    assert row["length"] == pytest.approx(ref["length"], rel=0.1 if method == "ncps_fused" else 0.03)
    assert row["model"] == "ltc_ncps" and row["sigma_w2"] is None and row["recurrence"] is None
    assert 0 < row["tau_min"] < 1
