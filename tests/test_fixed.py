"""Fixed-step methods of the torch solver (trajlen.solve.fixed): orders of convergence against a
closed form, the paper's fused step (Eq. 3), step grids, failures that stay local to one network."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trajlen.params import sample_params
from trajlen.solve.batch import solve_batched
from trajlen.solve.batch.fixed import fused_step, integrate_fixed, step_times
from trajlen.spec import InputSpec, NetworkSpec, SolverSpec

T_END = 2 * math.pi


class ForcedDecay:
    """``y' = −λ y + cos t`` per row (``leak = λ``, ``drive = cos t``); from y(0) = 0 the solution is
    ``(λ cos t + sin t − λ e^{−λ t}) / (1 + λ²)``."""

    def __init__(self, lam):
        self.lam = torch.as_tensor(lam, dtype=torch.float64)

    def leak_drive(self, t, y):
        return self.lam[:, None] + 0 * y, torch.cos(t)[:, None] + 0 * y

    def __call__(self, t, y):
        leak, drive = self.leak_drive(t, y)
        return drive - leak * y

    def take(self, rows):
        return ForcedDecay(self.lam[rows])

    def exact(self, t):
        lam = self.lam.numpy()
        return (lam * np.cos(t) + np.sin(t) - lam * np.exp(-lam * t)) / (1 + lam ** 2)


class BlowUp(ForcedDecay):
    """Row ``bad`` has ``y' = y² + 1`` (y = tan t, infinite at π/2); the others are ForcedDecay."""

    def __init__(self, lam, bad):
        super().__init__(lam)
        self.bad = torch.as_tensor(bad, dtype=torch.bool)

    def __call__(self, t, y):
        return torch.where(self.bad[:, None], y * y + 1.0, super().__call__(t, y))

    def leak_drive(self, t, y):
        leak, drive = super().leak_drive(t, y)
        # leak 0, drive y² + 1 (not leak −y, drive 1: the fused step would then be tan's addition
        # formula and step straight across the pole).
        return (torch.where(self.bad[:, None], 0.0, leak),
                torch.where(self.bad[:, None], y * y + 1.0, drive))

    def take(self, rows):
        return BlowUp(self.lam[rows], self.bad[rows])


def final_error(method, dt, lam=(1.0, 3.0)):
    field = ForcedDecay(list(lam))
    y0 = torch.zeros(len(lam), 1, dtype=torch.float64)
    res = integrate_fixed(field, y0, T_END, dt, method, max_steps=10 ** 7)
    return max(abs(r.step_y[-1, 0] - field.exact(T_END)[i]) for i, r in enumerate(res))


@pytest.mark.parametrize("method, order", [("euler", 1), ("rk4", 4), ("fused", 1)])
def test_convergence_order(method, order):
    # dt = 2π/n so that every step has the same length and the order is clean.
    errs = [final_error(method, T_END / n) for n in (100, 200, 400)]
    rates = [math.log2(errs[i] / errs[i + 1]) for i in range(2)]
    assert all(abs(r - order) < 0.15 for r in rates), (errs, rates)


def test_fused_step_is_paper_eq3():
    field = ForcedDecay([2.0])
    t = torch.tensor([0.3], dtype=torch.float64)
    y = torch.tensor([[0.7]], dtype=torch.float64)
    h = torch.tensor([0.1], dtype=torch.float64)
    expected = (0.7 + 0.1 * math.cos(0.3)) / (1 + 0.1 * 2.0)
    assert fused_step(field, t, y, h).item() == pytest.approx(expected, rel=1e-15)


def test_fused_is_stable_where_euler_is_not():
    """λ·dt = 5: explicit Euler's factor |1 − 5| > 1 diverges, the fused step stays bounded."""
    field = ForcedDecay([50.0])
    y0 = torch.zeros(1, 1, dtype=torch.float64)
    fused = integrate_fixed(field, y0, T_END, 0.1, "fused", max_steps=10 ** 6)[0]
    euler = integrate_fixed(field, y0, T_END, 0.1, "euler", max_steps=10 ** 6)[0]
    assert fused.status == "ok" and np.abs(fused.step_y).max() < 0.1
    assert euler.status == "non_finite" or np.abs(euler.step_y).max() > 1e6


def test_step_times():
    t = step_times(T_END, 0.01)
    assert len(t) == 630 and t[0] == 0 and t[-1] == T_END
    np.testing.assert_allclose(np.diff(t)[:-1], 0.01, rtol=1e-9)
    assert len(step_times(1.0, 0.1)) == 11                # 1/0.1 rounds to 10 steps, not 11
    with pytest.raises(ValueError, match="dt must be"):
        step_times(1.0, 0.0)


def test_counters_and_budget():
    field = ForcedDecay([1.0])
    y0 = torch.zeros(1, 1, dtype=torch.float64)
    r = integrate_fixed(field, y0, T_END, 0.01, "rk4", max_steps=10 ** 6)[0]
    assert r.n_accepted == 629 and r.nfev == 4 * 629 and r.status == "ok" and len(r.step_t) == 630
    r = integrate_fixed(field, y0, T_END, 0.01, "rk4", max_steps=100)[0]
    assert r.status == "step_budget" and r.n_accepted == 100 and len(r.step_t) == 101


@pytest.mark.parametrize("method", ["euler", "rk4", "fused"])
def test_failure_stays_local(method):
    """A row that blows up is marked non_finite at about t = π/2; the other rows are bitwise what
    they are without it."""
    lam = [1.0, 2.0, 3.0]
    y0 = torch.zeros(3, 1, dtype=torch.float64)
    mixed = integrate_fixed(BlowUp(lam, [False, True, False]), y0, T_END, 0.01, method,
                            max_steps=10 ** 6, capacity=16)
    alone = integrate_fixed(ForcedDecay([1.0, 3.0]), y0[:2], T_END, 0.01, method, max_steps=10 ** 6)
    assert mixed[1].status == "non_finite" and "t=" in mixed[1].message
    assert np.isfinite(mixed[1].step_y).all() and mixed[1].step_t[-1] < 2.0
    for got, want in zip((mixed[0], mixed[2]), alone):
        assert got.status == "ok"
        np.testing.assert_array_equal(got.step_y, want.step_y)
        np.testing.assert_array_equal(got.step_t, want.step_t)


def test_solve_batched_fixed_on_networks():
    """The fused step on reference LTC networks; a mixed batch equals each network alone."""
    inp = InputSpec(semantics="reference")
    nets = [NetworkSpec(model=m, activation="tanh", width=10, semantics="reference")
            for m in ("ltc", "ctrnn")]
    items = [(n, sample_params(n, 0, s)) for n in nets for s in range(2)]
    solver = SolverSpec(backend="torch", method="fused", dt=0.05)
    together = solve_batched(items, inp, solver)
    for item, tr in zip(items, together):
        alone = solve_batched([item], inp, solver)[0]
        assert tr.status == "ok" and tr.n_accepted == len(step_times(T_END, 0.05)) - 1
        np.testing.assert_array_equal(tr.x, alone.x)
        np.testing.assert_array_equal(tr.t, tr.step_t)
