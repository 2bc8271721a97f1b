"""The compiled per-network kernel (trajlen.solve.compiled, ``backend="numba"``): its vector field against
:class:`~trajlen.models.VectorField`, its steps against ``solve_ivp`` and the torch backend (both
controllers), failures, outputs, and its place in the pipeline and the CLI."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.integrate as si

from tests.helpers import ACTIVATIONS_ALL as ACTS
from tests.helpers import EXPLICIT, MODELS
from tests.helpers import items as _items
from trajlen.models import VectorField
from trajlen.params import sample_params
from trajlen.pipeline import Task, run_tasks
from trajlen.solve.batch import solve_batched
from trajlen.solve.compiled import integrate_one, rhs_one, solve_compiled
from trajlen.spec import InputSpec, NetworkSpec, SolverSpec, SpecError

pytestmark = pytest.mark.usefixtures("one_torch_thread")




def solver(backend="numba", **kw):
    kw.setdefault("output", "steps")
    kw.setdefault("controller", "scipy")
    return SolverSpec(backend=backend, **kw)


def items(semantics, models=MODELS, acts=ACTS[:4], width=20, samples=(0,), **net_kw):
    return _items(semantics, models, acts, width, samples, **net_kw)


@pytest.mark.parametrize("semantics", ["reference", "paper"])
@pytest.mark.parametrize("depth", [1, 2])
def test_rhs_equals_vector_field(semantics, depth):
    """The kernel's own layer glue, activations and input give VectorField's dx/dt (the models'
    leak_drive is the same function in both) — every model × activation, gate or shared recurrence."""
    rng = np.random.default_rng(3)
    inp = InputSpec(semantics=semantics)
    for net, p in items(semantics, acts=ACTS, width=12, depth=depth):
        field = VectorField.from_params(net, inp, p)
        for _ in range(4):
            y = rng.standard_normal(net.n_state) * 2.0
            y[: net.width // 2] += 3.0   # saturate hardtanh(_matlab) units on one side
            t = rng.uniform(0.0, inp.t_end)
            ref = field(np.array([t]), y[None])[0]
            got = rhs_one(net, inp, p, t, y)
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max(),
                                       err_msg=f"{net.model}/{net.activation}")


def test_matlab_htanh_all_saturated_layer():
    """Htanh.m on a layer where every unit is ≥ 1 returns ones for the whole layer."""
    net = NetworkSpec(model="node", activation="hardtanh_matlab", width=6, semantics="reference")
    p = sample_params(net, 0, 0)
    p.b[:] = 50.0                      # every pre-activation ≥ 1 → f = 1 for the N-ODE
    inp = InputSpec(semantics="reference")
    np.testing.assert_array_equal(rhs_one(net, inp, p, 0.3, np.zeros(6)), np.ones(6))


@pytest.mark.parametrize("method", [m.name for m in EXPLICIT if m.scipy_name])
def test_scipy_controller_takes_solve_ivp_steps(method):
    """Paper semantics, every model × activation: accepted steps and nfev equal solve_ivp's on the
    numpy VectorField; end states within 1e-8 relative."""
    inp = InputSpec(semantics="paper")
    its = items("paper", samples=(0, 1))
    res = solve_compiled(its, inp, solver(method=method))
    for (net, p), tr in zip(its, res):
        field = VectorField.from_params(net, inp, p)
        ref = si.solve_ivp(lambda t, y, field=field: field(np.array([t]), y[None])[0], (0.0, inp.t_end),
                           np.zeros(net.n_state), method=method, rtol=1e-2, atol=1e-4)
        label = f"{net.model}/{net.activation}"
        assert tr.status == "ok", label
        assert (tr.n_accepted, tr.nfev) == (len(ref.t) - 1, ref.nfev), label
        np.testing.assert_allclose(tr.step_t, ref.t, rtol=0, atol=1e-9, err_msg=label)
        end = ref.y[:, -1]
        assert np.abs(tr.x[-1] - end).max() <= 1e-8 * np.abs(end).max(), label


def test_matlab_controller_on_a_constant_slope():
    """An N-ODE with zero weights and bias b is dx/dt = φ(b): a constant slope, integrated exactly
    with zero error estimate. ode45's rules then give, by hand: the first absh from the initial
    slope, growth by 5× per step until MaxStep = 0.1·2π, and the end reached exactly — the same
    sequence as the torch backend."""
    net = NetworkSpec(model="node", activation="tanh", width=4, semantics="paper")
    p = sample_params(net, 0, 0)
    p.W[:] = 0.0
    p.W_r[:] = 0.0
    p.b[:] = 0.5
    inp = InputSpec(semantics="paper")
    r = integrate_one(net, inp, p, solver(controller="matlab"))
    h = np.diff(r.step_t)
    hmax = 0.1 * inp.t_end
    assert r.n_rejected == 0 and r.step_t[-1] == inp.t_end
    threshold = 1e-4 / 1e-2
    rh = np.tanh(0.5) / threshold / (0.8 * 1e-2 ** 0.2)        # ode45's initial step rule
    assert h[0] == pytest.approx(1.0 / rh, rel=1e-12)
    for i in range(1, len(h) - 1):
        assert h[i] == pytest.approx(min(5.0 * h[i - 1], hmax), rel=1e-12)
    assert h[-1] <= 1.1 * hmax
    np.testing.assert_allclose(r.out_x[-1][-1], np.tanh(0.5) * inp.t_end, rtol=1e-12)
    t = solve_batched([(net, p)], inp, solver("torch", controller="matlab"))[0]
    np.testing.assert_array_equal(r.step_t, t.step_t)


def test_budget_and_blow_up_are_recorded():
    """A network over its step budget and one whose state overflows are failure rows; a healthy
    network next to them is unaffected."""
    inp = InputSpec(semantics="reference")
    good = items("reference", models=("ctrnn",), acts=("tanh",))[0]
    # dx/dt = relu(300 x + b) with b > 0 (paper semantics: the recurrence is inside f): growth like
    # e^{300 t}, which overflows float64 long before t = 2π.
    big = NetworkSpec(model="node", activation="relu", width=20, semantics="paper")
    pb = sample_params(big, 0, 0)
    pb.W_r[0] = 300.0 * np.eye(20)
    pb.b[:] = 1.0
    res = solve_compiled([good, (big, pb)], inp, solver())
    assert res[0].ok
    assert res[1].status in ("non_finite", "step_size_underflow"), res[1].message
    alone = solve_compiled([good], inp, solver())[0]
    np.testing.assert_array_equal(res[0].x, alone.x)
    short = solve_compiled([good], inp, solver(max_steps=5))[0]
    assert short.status == "step_budget" and short.n_accepted + short.n_rejected == 5
    assert "step budget 5" in short.message


def test_pipeline_rows_match_scipy_backend():
    """run_tasks with backend numba: the same lengths, L and step counts as the scipy backend on
    paper-semantics networks."""
    net_inp = InputSpec(semantics="paper")
    tasks = []
    for (net, _), be in itertools.product(items("paper", acts=("tanh", "relu")), ("scipy", "numba")):
        tasks.append(Task(net, net_inp, SolverSpec(backend=be, semantics="paper"), seed=0, sample=0))
    rows = run_tasks(tasks)
    for a, b in zip(rows[::2], rows[1::2]):
        assert a["status"] == b["status"] == "ok"
        assert (a["n_accepted"], a["nfev"]) == (b["n_accepted"], b["nfev"])
        assert a["length"] == pytest.approx(b["length"], rel=1e-8)
        assert b["backend"] == "numba"


def test_spec_rejects_what_numba_cannot_do():
    with pytest.raises(SpecError, match="numba"):
        SolverSpec(backend="numba", method="LSODA")
    with pytest.raises(SpecError, match="float64"):
        SolverSpec(backend="numba", dtype="float32")
    with pytest.raises(SpecError, match="CPU"):
        SolverSpec(backend="numba", device="cuda")


def test_refine_and_grid_points_are_the_steps_dense_output():
    """Streamed outputs: Refine's every r-th point is the step output itself, its times are
    t + h·j/r; grid points that fall on a step end are that step's state; a grid point inside a step
    interpolates between the step's ends (within the tolerance of the solve)."""
    inp = InputSpec(semantics="reference")
    for net, p in items("reference", width=15, samples=(0, 1)):
        steps = solve_compiled([(net, p)], inp, solver(controller="matlab"))[0]
        ref = solve_compiled([(net, p)], inp, solver(controller="matlab", output="refine", refine=4))[0]
        assert np.array_equal(ref.x[::4], steps.x) and np.array_equal(ref.t[::4], steps.t)
        h = np.diff(steps.t)
        for j in (1, 2, 3):
            assert np.array_equal(ref.t[j::4], steps.t[:-1] + h * (j / 4))
        grid = solve_compiled([(net, p)], inp, solver(controller="matlab", output="grid",
                                                      grid_points=1001))[0]
        assert np.array_equal(grid.step_t, steps.step_t)
        on = np.isin(grid.t, steps.t)
        assert np.array_equal(grid.x[on], steps.x[np.isin(steps.t, grid.t)])
        scale = np.abs(steps.x).max()
        assert np.abs(grid.x[-1] - steps.x[-1]).max() <= 1e-12 * scale


@pytest.mark.parametrize("method", ["RK45", "RK45+ros23w", "ros23w"])
@pytest.mark.parametrize("output", ["grid", "refine", "steps"])
def test_a_solve_holds_its_output_and_8_bytes_per_step(method, output):
    """A stiff network (thousands of steps): a solve keeps its output points plus the step times —
    no per-step states or coefficients beyond the output — in blocks that are each at most
    BLOCK_BYTES; the output crosses block boundaries unchanged (the same points as one big block);
    and a failed solve's output stops at its last step."""
    import trajlen.solve.compiled as C

    net = NetworkSpec(model="ctrnn", activation="tanh", width=20, semantics="paper")
    p = sample_params(net, 0, 0)
    p.tau[0, 0] = 1e-4
    inp = InputSpec(semantics="paper")
    sol = solver(method=method, output=output, grid_points=501, refine=4)

    def solve(first_rows):
        old = C.FIRST_BLOCK_ROWS
        try:
            C.FIRST_BLOCK_ROWS = first_rows
            return integrate_one(net, inp, p, sol)
        finally:
            C.FIRST_BLOCK_ROWS = old

    r = solve(2)          # many blocks
    n_out = len(r.out_t)
    held = r.step_t.nbytes + r.out_t.nbytes + sum(b.nbytes for b in r.out_x)
    assert r.Q is None and r.step_y.shape == (len(r.step_t), 0)
    assert held == 8 * len(r.step_t) + n_out * 8 * (1 + 20)
    assert n_out == {"grid": 501, "refine": 4 * r.n_accepted + 1, "steps": r.n_accepted + 1}[output]
    if output != "grid":
        assert len(r.out_x) > 1 and all(b.nbytes <= C.BLOCK_BYTES for b in r.out_x)
    one = solve(10 ** 6)  # one block
    assert np.array_equal(np.concatenate(one.out_x), np.concatenate(r.out_x))
    assert np.array_equal(one.step_t, r.step_t) and one.nfev == r.nfev
    short = integrate_one(net, inp, p, solver(method=method, output=output, grid_points=501,
                                              max_steps=40))
    assert short.status == "step_budget"
    assert 1 <= len(short.out_t) and short.out_t[-1] <= short.step_t[-1]
    assert sum(len(b) for b in short.out_x) == len(short.out_t)


def test_max_seconds_is_a_time_limit_row_on_numba():
    """A wall-time limit per solve is checked between kernel calls: a solve over it is a
    time_limit row with the points reached so far."""
    net = NetworkSpec(model="ctrnn", activation="tanh", width=20, semantics="paper")
    p = sample_params(net, 0, 0)
    p.tau[0, 0] = 1e-6      # about 10^6 steps: far longer than the limit
    inp = InputSpec(semantics="paper")
    r = integrate_one(net, inp, p, solver(max_seconds=0.05, max_steps=10 ** 8))
    assert r.status == "time_limit" and "time limit 0.05s" in r.message
    assert 0 < r.n_accepted < 10 ** 6 and r.out_t[-1] == r.step_t[-1] < inp.t_end


def test_kernel_cached_sees_numba_cache_files(tmp_path, monkeypatch):
    """The driver's "compiling the solver kernel" notice reads kernel_cached: it must find numba's
    index files where numba writes them (a per-source-folder subfolder of the cache) and only there."""
    from trajlen.solve.compiled import jit

    monkeypatch.setattr(jit, "CACHE", tmp_path)
    assert not jit.is_cached("trajlen.solve.compiled.explicit.explicit_run")
    sub = tmp_path / "compiled_0123"
    sub.mkdir()
    (sub / "explicit.explicit_run-187.py311.nbi").write_bytes(b"")
    assert jit.is_cached("trajlen.solve.compiled.explicit.explicit_run")
    assert not jit.is_cached("trajlen.solve.compiled.rosenbrock.ros_run")
