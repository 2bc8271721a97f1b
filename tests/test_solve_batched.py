"""The batched torch solver (trajlen.solve.batched): parity with scipy's ``solve_ivp``, independence of
batch composition, failures that stay local, work efficiency, outputs, chunking, dtypes, devices."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import scipy.integrate as si
import torch

from tests.helpers import TAB
from trajlen.models import VectorField
from trajlen.params import sample_params
from trajlen.solve.batch import RunStats, integrate_adaptive, solve_batched
from trajlen.solve.batch.controllers import make_controller
from trajlen.solve.scipy_ivp import solve_scipy
from trajlen.spec import InputSpec, NetworkSpec, SolverSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RK45 = TAB["RK45"]

INP = InputSpec(semantics="reference")
T_END = INP.t_end




def items_for(models, activations, widths, seeds, **net_kw):
    out = []
    for m in models:
        for a in activations:
            for k in widths:
                net = NetworkSpec(model=m, activation=a, width=k, semantics="reference", **net_kw)
                out += [(net, sample_params(net, s, 0)) for s in seeds]
    return out


def solve_ivp_numpy(net, params, method, rtol, atol, perturb=0.0):
    """``solve_ivp`` on the numpy VectorField (B = 1), exactly as the scipy backend runs it;
    ``perturb`` scales the RHS by ``1 + perturb`` (a last-bit perturbation for conditioning)."""
    field = VectorField.from_params(net, INP, params)
    return si.solve_ivp(lambda t, y: field(np.array([t]), y[None])[0] * (1.0 + perturb), (0.0, T_END),
                        np.zeros(net.n_state), method=method, rtol=rtol, atol=atol)


def torch_solver(**kw):
    kw.setdefault("output", "steps")
    return SolverSpec(backend="torch", semantics="reference", **kw)


# -- parity with solve_ivp -----------------------------------------------------------------------------
#: Mixed batch for the strict parity test: every model and activation (the N-ODE and CT-RNN of the
#: reference semantics are the smooth cases), plus stiff reference LTC networks with relu.
STRICT = (items_for(["node", "ctrnn"], ["tanh", "sigmoid", "relu", "hardtanh"], [20], [0])
          + items_for(["ltc"], ["relu"], [20], [0, 1, 2]))


@pytest.mark.parametrize("method", ["RK45", "RK23"])
def test_scipy_parity_steps_and_nfev(method):
    """Every network takes solve_ivp's accepted steps and RHS evaluations, and ends at its state.

    The solver is scipy's algorithm rule for rule, but its floating point is torch's: the RHS matvec
    (MKL vs numpy's OpenBLAS) and the stage sums differ in the last bits, and the error estimate
    Σ E_j K_j amplifies that by its cancellation. Where relu kinks or the |f| of the reference LTC make
    the error a rough function of the step, such a difference can flip an accept/reject decision
    (see test_scipy_parity_ltc_statistics); the networks here are ones where it does not.

    End states must agree to 1e-8 relative, or — where the adaptive solution itself is that
    sensitive — to 10× the change scipy's own end state shows when its RHS is scaled by 1 ± 1e-14
    (the size of the numpy/torch RHS discrepancy: the problem's conditioning, not the solver's; both
    signs, because one sign alone can underestimate it 13×: on an AVX-512 Xeon a stiff relu LTC's step
    times moved 1.7e-9 for +1e-14, 2.2e-8 for −1e-14, and 3.3e-8 between numpy and torch).
    For the reference LTC with relu that change reaches 1e-4 relative: scipy does not reproduce
    itself to 1e-8 under such a perturbation either.
    """
    rtol, atol = 1e-2, 1e-4                     # Table 2's tolerances
    res = solve_batched(STRICT, INP, torch_solver(method=method, controller="scipy", rtol=rtol,
                                                  atol=atol))
    for (net, p), tr in zip(STRICT, res):
        ref = solve_ivp_numpy(net, p, method, rtol, atol)
        label = f"{net.model}/{net.activation}"
        assert tr.status == "ok", label
        assert tr.n_accepted == len(ref.t) - 1, label
        assert tr.nfev == ref.nfev, label
        end = ref.y[:, -1]
        scale = np.abs(end).max()
        tol, t_tol = 1e-8, 1e-9
        for eps in (1e-14, -1e-14):
            ulp = solve_ivp_numpy(net, p, method, rtol, atol, perturb=eps)
            tol = max(tol, 10 * np.abs(ulp.y[:, -1] - end).max() / scale)
            if len(ulp.t) == len(ref.t):
                t_tol = max(t_tol, 10 * np.abs(ulp.t - ref.t).max() / T_END)
        assert np.abs(tr.x[-1] - end).max() <= tol * scale, (label, tol)
        np.testing.assert_allclose(tr.step_t, ref.t, rtol=0, atol=t_tol * T_END, err_msg=label)


def test_scipy_parity_rejections_match_scipy_backend():
    """Rejected-step counts agree with the scipy backend's count (derived there from nfev)."""
    items = STRICT[:4] + STRICT[-2:]
    solver = torch_solver(method="RK45", controller="scipy")
    ref_solver = SolverSpec(backend="scipy", method="RK45", output="steps", semantics="reference")
    for (net, p), tr in zip(items, solve_batched(items, INP, solver)):
        ref = solve_scipy(net, p, INP, ref_solver)
        assert (tr.n_accepted, tr.n_rejected, tr.nfev) == (ref.n_accepted, ref.n_rejected, ref.nfev)


@pytest.mark.slow
@pytest.mark.parametrize("method, min_exact", [("RK45", 0.6), ("RK23", 0.75)])
def test_scipy_parity_ltc_statistics(method, min_exact):
    """Reference LTC networks (all activations, widths 20 and 50, 3 seeds). Measured on the
    development machine: 16/24 (RK45) and 21/24 (RK23) networks take exactly solve_ivp's steps; the
    rest differ after a last-bit difference flipped a decision (docstring of the strict test).
    Each network's RHS evaluations stay within 10 % of scipy's, their total within 3 %."""
    rtol, atol = 1e-2, 1e-4
    items = items_for(["ltc"], ["tanh", "sigmoid", "relu", "hardtanh"], [20, 50], [0, 1, 2])
    res = solve_batched(items, INP, torch_solver(method=method, controller="scipy", rtol=rtol,
                                                 atol=atol))
    exact = total = total_ref = 0
    for (net, p), tr in zip(items, res):
        ref = solve_ivp_numpy(net, p, method, rtol, atol)
        exact += tr.nfev == ref.nfev and tr.n_accepted == len(ref.t) - 1
        assert abs(tr.nfev - ref.nfev) <= 0.1 * ref.nfev
        total += tr.nfev
        total_ref += ref.nfev
    assert exact >= min_exact * len(items)
    assert abs(total - total_ref) <= 0.03 * total_ref


# -- batch composition -----------------------------------------------------------------------------
MIXED = (items_for(["node", "ctrnn"], ["tanh", "relu"], [12], [0])
         + items_for(["ltc"], ["tanh"], [12], [0, 1])
         + items_for(["ltc"], ["sigmoid"], [12], [2], sigma_w2=4.0))


@pytest.mark.parametrize("controller, output", [("matlab", "refine"), ("scipy", "grid")])
def test_batch_composition_independence(controller, output):
    """A network alone, in a batch, or in the same batch shuffled gives bitwise the same result."""
    solver = torch_solver(method="RK45", controller=controller, output=output, refine=4,
                          grid_points=301)
    full = solve_batched(MIXED, INP, solver)
    perm = np.random.default_rng(0).permutation(len(MIXED))
    shuffled = solve_batched([MIXED[i] for i in perm], INP, solver)
    for j, i in enumerate(perm):
        np.testing.assert_array_equal(shuffled[j].x, full[i].x)
        np.testing.assert_array_equal(shuffled[j].t, full[i].t)
    for i in (1, len(MIXED) - 1):
        alone = solve_batched([MIXED[i]], INP, solver)[0]
        np.testing.assert_array_equal(alone.x, full[i].x)
        np.testing.assert_array_equal(alone.step_t, full[i].step_t)
        assert (alone.nfev, alone.n_rejected) == (full[i].nfev, full[i].n_rejected)


# -- failures --------------------------------------------------------------------------------------
class Riccati:
    """Row-wise ``y' = −λ y + cos t`` or, where ``bad``, ``y' = y² + 1`` (y = tan t: a pole at π/2)."""

    def __init__(self, lam, bad):
        self.lam = torch.as_tensor(lam, dtype=torch.float64)
        self.bad = torch.as_tensor(bad, dtype=torch.bool)

    def __call__(self, t, y):
        good = -self.lam[:, None] * y + torch.cos(t)[:, None]
        return torch.where(self.bad[:, None], y * y + 1.0, good)

    def take(self, rows):
        return Riccati(self.lam[rows], self.bad[rows])


@pytest.mark.parametrize("controller", ["scipy", "matlab"])
def test_blow_up_is_local(controller):
    lam = [1.0, 5.0, 20.0, 2.0]
    y0 = torch.zeros(4, 1, dtype=torch.float64)
    ctrl = make_controller(controller, RK45, 1e-6, 1e-9)
    mixed = integrate_adaptive(Riccati(lam, [False, True, False, False]), y0, T_END, RK45, ctrl,
                               max_steps=100_000, dense=True)
    ctrl = make_controller(controller, RK45, 1e-6, 1e-9)
    alone = integrate_adaptive(Riccati([1.0, 20.0, 2.0], [False] * 3), y0[:3], T_END, RK45, ctrl,
                               max_steps=100_000, dense=True)
    bad = mixed[1]
    assert bad.status in ("step_size_underflow", "non_finite"), bad.status
    assert bad.step_t[-1] == pytest.approx(math.pi / 2, abs=1e-3)
    for got, want in zip((mixed[0], mixed[2], mixed[3]), alone):
        assert got.status == "ok"
        np.testing.assert_array_equal(got.step_t, want.step_t)
        np.testing.assert_array_equal(got.step_y, want.step_y)
        np.testing.assert_array_equal(got.Q, want.Q)
        assert (got.nfev, got.n_rejected) == (want.nfev, want.n_rejected)


def test_step_budget_is_per_network():
    """A budget too small for the stiff LTC fails only the LTC; the N-ODEs are untouched."""
    items = items_for(["node"], ["tanh"], [12], [0, 1]) + items_for(["ltc"], ["hardtanh"], [12], [0])
    small = solve_batched(items, INP, torch_solver(method="RK45", controller="matlab", max_steps=60))
    big = solve_batched(items, INP, torch_solver(method="RK45", controller="matlab"))
    assert big[2].n_accepted + big[2].n_rejected > 60          # the LTC needs more than the budget
    assert small[2].status == "step_budget" and "budget 60" in small[2].message
    assert small[2].n_accepted + small[2].n_rejected == 60
    for i in (0, 1):
        assert small[i].status == "ok"
        np.testing.assert_array_equal(small[i].x, big[i].x)


# -- work ------------------------------------------------------------------------------------------
def test_work_within_20_percent_of_needed():
    """Networks needing 10× different step counts: finished rows leave the batch, so the RHS rows
    evaluated stay within 1.2× the evaluations the networks need."""
    lam = np.geomspace(0.5, 400.0, 24)
    field = Riccati(lam, [False] * len(lam))
    y0 = torch.zeros(len(lam), 1, dtype=torch.float64)
    stats = RunStats()
    res = integrate_adaptive(field, y0, T_END, RK45, make_controller("scipy", RK45, 1e-6, 1e-9),
                             max_steps=10 ** 6, stats=stats)
    needed = sum(r.nfev for r in res)
    counts = [r.nfev for r in res]
    assert max(counts) > 5 * min(counts)
    assert stats.work_evals <= 1.2 * needed, (stats.work_evals, needed)
    assert stats.compactions > 0


# -- outputs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("output", ["refine", "grid"])
def test_dense_outputs_match_scipy_backend(output):
    items = items_for(["node", "ctrnn"], ["sigmoid"], [16], [0])
    kw = dict(method="RK45", output=output, refine=4, grid_points=257)
    res = solve_batched(items, INP, torch_solver(controller="scipy", **kw))
    for (net, p), tr in zip(items, res):
        ref = solve_scipy(net, p, INP, SolverSpec(backend="scipy", semantics="reference", **kw))
        assert tr.t.shape == ref.t.shape
        np.testing.assert_allclose(tr.t, ref.t, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(tr.x, ref.x, rtol=1e-9, atol=1e-12)
        if output == "refine":
            assert len(tr.t) == 1 + 4 * tr.n_accepted
            np.testing.assert_array_equal(tr.t[::4], tr.step_t)     # every 4th point is a step


def test_chunking_progress_and_logging(caplog):
    items = MIXED[:5]
    solver = torch_solver(method="RK23", controller="matlab", output="refine", refine=4)
    seen = []
    with caplog.at_level(logging.INFO, logger="trajlen.solve.batch"):
        tiny = solve_batched(items, INP, solver, memory_budget_bytes=1, progress=seen.append)
    whole = solve_batched(items, INP, solver)
    assert sum(seen) == len(items)
    assert any("chunk" in r.getMessage() for r in caplog.records)
    for a, b in zip(tiny, whole):
        np.testing.assert_array_equal(a.x, b.x)
    with pytest.raises(ValueError, match="memory_budget_bytes must be > 0"):
        solve_batched(items, INP, solver, memory_budget_bytes=0)


def test_float32_state_close_to_float64():
    items = items_for(["node", "ctrnn", "ltc"], ["tanh"], [8], [0])
    kw = dict(method="RK45", controller="matlab", output="steps", rtol=1e-3, atol=1e-6)
    r64 = solve_batched(items, INP, torch_solver(dtype="float64", **kw))
    r32 = solve_batched(items, INP, torch_solver(dtype="float32", **kw))
    for a, b in zip(r64, r32):
        assert b.status == "ok" and b.x.dtype == np.float64 and b.t.dtype == np.float64
        assert b.step_t[-1] == T_END
        scale = np.abs(a.x[-1]).max()
        assert np.abs(a.x[-1] - b.x[-1]).max() < 1e-3 * scale
        assert abs(b.n_accepted - a.n_accepted) <= max(2, 0.1 * a.n_accepted)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    items = MIXED
    kw = dict(method="RK45", controller="scipy", output="refine", refine=4)
    cpu = solve_batched(items, INP, torch_solver(**kw))
    gpu = solve_batched(items, INP, torch_solver(device="cuda", **kw))
    for a, b in zip(cpu, gpu):
        assert b.status == "ok"
        assert abs(a.n_accepted - b.n_accepted) <= max(1, 0.02 * a.n_accepted)
        np.testing.assert_allclose(b.x[-1], a.x[-1], rtol=1e-5, atol=1e-8)
