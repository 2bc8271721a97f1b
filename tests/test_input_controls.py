"""The input controls (SPEC §6, "Input attribution"): the input off, its gain and frequency, and the
steady orbit after a transient — on every executor, against independent truth (a run with the input
weights zeroed, a separately measured last period, the chord length of the input's own samples)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import trajlen.sweep as sweep_cli
from trajlen.inputs import CircleInput, input_curve
from trajlen.measures import arc_length, pca_project
from trajlen.models import VectorField
from trajlen.params import sample_params
from trajlen.pipeline import Task, run_tasks, trajectory_for
from trajlen.shards import ROW_SCHEMA
from trajlen.spec import InputSpec, SpecError, make_specs

BACKENDS = ("numba", "scipy", "torch")
TWO_PI = 2.0 * math.pi


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _solve(backend, semantics="reference", sample=0, params=None, **kw):
    net, inp, sol = make_specs(semantics, width=kw.pop("width", 6), backend=backend, **kw)
    task = Task(net, inp, sol, 0, sample)
    if sol.backend == "torch":
        from trajlen.solve.batch import solve_batched

        p = task.params() if params is None else params
        return solve_batched([(net, p)], inp, sol)[0]
    return trajectory_for(task, params)


# -- task ids ------------------------------------------------------------------------------------

#: task ids of trajlen before the input controls existed (commit 33e6730): default specs keep them
OLD_IDS = [
    ("reference", {}, "25b2ad9932ad8e15"),
    ("paper", {}, "59818e3bc57ab7c0"),
    ("reference", {"model": "node", "activation": "hardtanh", "width": 100, "input_kind": "exact"},
     "42db87239cadc273"),
    ("paper", {"model": "ctrnn", "activation": "relu", "width": 25, "backend": "scipy", "output": "grid"},
     "e177be0f499c65dc"),
    ("reference", {"model": "ltc", "activation": "sigmoid", "method": "RK23", "backend": "torch",
                   "n_samples": 50}, "02195336c12a7ce1"),
]


@pytest.mark.parametrize("semantics, kw, task_id", OLD_IDS)
def test_task_ids_of_default_specs_are_unchanged(semantics, kw, task_id):
    assert Task(*make_specs(semantics, **kw), seed=0, sample=3).task_id == task_id
    explicit = make_specs(semantics, **kw, gain=1.0, omega=1, transient=0, perturb=0)
    assert Task(*explicit, seed=0, sample=3).task_id == task_id


@pytest.mark.parametrize("change", [dict(gain=2.0), dict(omega=0.5), dict(transient=3.0),
                                    dict(input_kind="off"), dict(perturb=2)])
def test_a_new_field_off_its_default_is_a_new_task(change):
    base = Task(*make_specs("reference"), seed=0, sample=3).task_id
    assert Task(*make_specs("reference", **change), seed=0, sample=3).task_id != base


def test_rows_carry_the_new_fields_as_columns():
    net, inp, sol = make_specs("paper", model="node", width=4, gain=0.5, omega=2.0, transient=1.0,
                               backend="numba")
    row = run_tasks([Task(net, inp, sol)])[0]
    assert set(row) == set(ROW_SCHEMA.names)
    assert (row["input_gain"], row["input_omega"], row["transient"], row["perturb"]) == (0.5, 2.0, 1.0, 0)
    assert math.isnan(row["length_spread"]) and math.isnan(row["L_spread"])


# -- off and gain ------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("semantics", ["reference", "paper"])
@pytest.mark.parametrize("model", ["node", "ctrnn", "ltc"])
def test_off_is_the_run_with_the_input_weights_zeroed(backend, semantics, model):
    net, _, _ = make_specs(semantics, model=model, activation="tanh", width=6)
    p = sample_params(net, 0, 1)
    W = p.W.copy()
    W[0, :2, :] = 0.0            # layer 1's input weights
    zeroed = dataclasses.replace(p, W=W)
    off = _solve(backend, semantics, 1, model=model, activation="tanh", input_kind="off")
    ref = _solve(backend, semantics, 1, params=zeroed, model=model, activation="tanh")
    assert off.ok and ref.ok
    np.testing.assert_array_equal(off.t, ref.t)
    np.testing.assert_array_equal(off.x, ref.x)
    # and it is not the driven trajectory
    on = _solve(backend, semantics, 1, model=model, activation="tanh")
    assert len(on.t) != len(off.t) or not np.array_equal(on.x, off.x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gain_zero_is_the_input_off(backend):
    a = _solve(backend, "paper", model="ltc", gain=0.0)
    b = _solve(backend, "paper", model="ltc", input_kind="off")
    np.testing.assert_array_equal(a.x, b.x)


def test_off_refuses_a_gain_or_frequency():
    with pytest.raises(SpecError, match=r"input gain \(--input-gain\) does not apply to --input-kind off"):
        InputSpec(kind="off", gain=2.0)
    with pytest.raises(SpecError, match="--input-omega"):
        InputSpec(kind="off", omega=3.0)


@pytest.mark.parametrize("bad, match", [(dict(gain=-1.0), "gain"), (dict(gain=math.inf), "gain"),
                                        (dict(omega=0.0), "omega"), (dict(omega=-2.0), "omega"),
                                        (dict(transient=-1.0), "transient"),
                                        (dict(transient=math.nan), "transient"),
                                        (dict(kind="samples", transient=1e12), "table")])
def test_input_values_are_validated(bad, match):
    with pytest.raises(SpecError, match=match):
        InputSpec(**bad)


# -- gain and omega: the input's own length ---------------------------------------------------------

@pytest.mark.parametrize("gain, omega", [(1.0, 1.0), (0.5, 1.0), (2.0, 3.0), (1.0, 0.25)])
def test_the_input_length_scales_with_gain_and_omega(gain, omega):
    exact = arc_length(input_curve(InputSpec(kind="exact", gain=gain, omega=omega)))
    assert exact == pytest.approx(gain * omega * TWO_PI, rel=1e-7)
    # 99 chords of the samples, each of length 2·gain·sin(ω·δt/2)
    dt = TWO_PI / 99
    samples = arc_length(input_curve(InputSpec(kind="samples", gain=gain, omega=omega)))
    assert samples == pytest.approx(99 * 2 * gain * math.sin(omega * dt / 2), rel=1e-12)
    assert arc_length(input_curve(InputSpec(kind="off"))) == 0.0


def test_the_default_input_length_is_the_papers():
    assert arc_length(input_curve(InputSpec(kind="samples"))) == 6.282130832617393
    t = np.linspace(0, TWO_PI, 10_001)
    assert arc_length(input_curve(InputSpec(kind="exact"))) == arc_length(np.c_[np.sin(t), np.cos(t)])


@pytest.mark.parametrize("kind", ["exact", "samples"])
def test_the_input_is_the_curve_it_says(kind):
    spec = InputSpec(kind=kind, gain=1.5, omega=2.0, transient=4.0)
    t = np.linspace(0, spec.t_end, 777)
    u = CircleInput(spec)(t)
    tol = 1e-15 if kind == "exact" else 1.5 * (2.0 * spec.dt) ** 2 / 8   # linear interpolation
    np.testing.assert_allclose(u, 1.5 * np.c_[np.sin(2 * t), np.cos(2 * t)], atol=tol, rtol=0)


@pytest.mark.parametrize("kind", ["exact", "samples", "off"])
def test_one_time_gives_the_bits_of_the_batch(kind):
    """The scipy path's one-time call (a scalar fast path) is bit-identical to the same times
    evaluated as a batch, at the table's ends and beyond them too."""
    gain = {} if kind == "off" else dict(gain=0.7, omega=1.7)
    spec = InputSpec(kind=kind, transient=5.0, **gain)
    ci = CircleInput(spec)
    ends = [0.0, spec.dt, TWO_PI, spec.t_end, spec.t_end + 1.0, -0.5, np.nextafter(spec.t_end, 0)]
    t = np.concatenate([np.random.default_rng(3).uniform(0, spec.t_end, 3000), ends])
    batch = ci(t)
    one = np.concatenate([ci(np.array([v])) for v in t])
    assert one.shape == batch.shape == (t.size, 2) and one.dtype == batch.dtype == np.float64
    assert np.array_equal(one.view(np.int64), batch.view(np.int64))   # bits, signed zeros too
    assert np.array_equal(ci(t[:2]), batch[:2])                        # two times: the batch path


@pytest.mark.parametrize("kind", ["exact", "samples", "off"])
def test_the_compiled_kernel_reads_the_same_input(kind):
    from trajlen.solve.compiled import rhs_one

    gain = {} if kind == "off" else dict(gain=0.7, omega=1.7)
    net, inp, _ = make_specs("paper", model="ltc", width=5, input_kind=kind, transient=5.0, **gain)
    p = sample_params(net, 0, 2)
    field = VectorField.from_params(net, inp, p)
    rng = np.random.default_rng(0)
    for t in (0.0, 1.3, TWO_PI, 7.9, inp.t_end):
        y = rng.standard_normal(net.n_state)
        np.testing.assert_allclose(rhs_one(net, inp, p, t, y), field(np.array([t]), y[None])[0],
                                   rtol=1e-13, atol=1e-13)


# -- the transient: one period measured ------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("output", ["steps", "refine", "grid"])
def test_a_transient_measures_exactly_the_last_period(backend, output):
    T = 5.0
    controller = "scipy" if backend == "scipy" else "matlab"
    tr = _solve(backend, "reference", model="ltc", transient=T, output=output, refine=4,
                controller=controller, grid_points=301)
    assert tr.ok
    assert tr.t[0] == T and tr.t[-1] == pytest.approx(T + TWO_PI, abs=1e-12)
    assert np.all(np.diff(tr.t) > 0)
    if output == "grid":
        np.testing.assert_array_equal(tr.t, np.linspace(T, T + TWO_PI, 301))
    assert tr.step_t[0] == T and tr.n_measured == len(tr.step_t) - 1 < tr.n_accepted


def _cut(t, x, t0):
    """An independent cut of the output polyline at ``t0``: the points after it, and the linear
    interpolation of every component at ``t0`` (np.interp)."""
    first = np.array([np.interp(t0, t, x[:, j]) for j in range(x.shape[1])])
    keep = t > t0
    return np.r_[[t0], t[keep]], np.vstack([first, x[keep]])


@pytest.mark.parametrize("output", ["refine", "steps"])
def test_the_windows_length_is_the_last_period_of_the_whole_run(output):
    """The length of a run with a transient equals the last period of the same, unwindowed solve,
    measured separately; its full-space length and that of the part before add up to the whole's;
    L counts the steps that end in the window."""
    from trajlen.solve.compiled import integrate_one

    T = 2.5
    net, inp, sol = make_specs("reference", model="ltc", activation="tanh", width=8, transient=T,
                               backend="numba", output=output)
    task = Task(net, inp, sol, 0, 4)
    row = run_tasks([task])[0]
    whole = integrate_one(net, inp, task.params(), sol)
    t, x = whole.out_t, np.concatenate(whole.out_x)
    tw, xw = _cut(t, x, T)
    z, _ = pca_project(xw)
    assert row["length"] == pytest.approx(arc_length(z), rel=1e-12)
    before = np.vstack([x[t < T], xw[:1]])
    assert arc_length(before) + row["length_full"] == pytest.approx(arc_length(x), rel=1e-12)
    in_window = int(np.sum(whole.step_t > T))
    assert row["L"] == pytest.approx(sol.refine * in_window / inp.n_samples)
    assert row["n_accepted"] == len(whole.step_t) - 1 > in_window


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_matlab_max_step_is_that_of_one_period(backend):
    """ode45's MaxStep stays 0.1·2π after a transient (the window is stepped like Table 2's)."""
    tr = _solve(backend, "reference", model="node", width=4, transient=30.0)
    assert np.max(np.diff(tr.step_t)) <= 0.1 * TWO_PI * (1 + 1e-12)
    # the N-ODE's window is MaxStep-bound: 10 steps of 0.1·2π, and the one that straddles T
    assert tr.n_measured in (10, 11)


def test_the_reference_node_orbit_is_a_translate_of_its_first_period():
    """The authors' N-ODE has no recurrence: dx/dt = f(I(t)) is periodic, so the orbit after a
    transient of whole periods is the first period shifted, with the same PCA length."""
    kw = dict(model="node", activation="tanh", width=8, input_kind="exact", output="grid",
              grid_points=801, rtol=1e-9, atol=1e-11, backend="numba")
    first = run_tasks([Task(*make_specs("reference", **kw), 0, 2)])[0]
    later = run_tasks([Task(*make_specs("reference", transient=2 * TWO_PI, **kw), 0, 2)])[0]
    assert later["length"] == pytest.approx(first["length"], rel=1e-6)
    assert later["l_input"] == first["l_input"]


def test_a_static_network_sees_the_input_curve():
    net, inp, sol = make_specs("paper", model="mlp", width=4, gain=0.0)
    assert run_tasks([Task(net, inp, sol)])[0]["length"] == 0.0


# -- the command line ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["--input-kind", "off", "--input-gain", "2"], "--input-gain with --input-kind off"),
    (["--input-kind", "exact", "off", "--input-omega", "2"], "--input-omega with --input-kind off"),
    (["--input-gain", "-1"], "input gain (--input-gain) must be a finite number >= 0"),
    (["--input-omega", "0"], "input omega (--input-omega) must be a finite number > 0"),
    (["--transient", "-2"], "transient (--transient) must be a finite number >= 0"),
    (["--transient", "inf"], "argument --transient: must be a finite number"),
    (["--model", "mlp", "--transient", "3"], "--transient applies only to the continuous-time"),
    (["--model", "mlp", "--perturb", "2"], "--perturb applies only to the continuous-time"),
    (["--perturb", "-1"], "perturb (--perturb) must be an integer"),
])
def test_inapplicable_or_bad_flags_are_refused_in_one_line(argv, words, tmp_path, capsys):
    out = tmp_path / "store"
    assert sweep_cli.main(["--width", "4", "--samples", "1", "--out", str(out), "--dry-run", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err and not out.exists()


def test_the_flags_sweep(tmp_path, capsys):
    argv = ["--width", "4", "--samples", "1", "--model", "node", "--input-gain", "0.5", "2",
            "--input-omega", "3", "--transient", "0", "4", "--out", str(tmp_path / "s"), "--dry-run"]
    assert sweep_cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("4 networks in 4 configuration(s)")
