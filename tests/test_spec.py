import math

import pytest

from trajlen.spec import SEMANTICS, InputSpec, NetworkSpec, SolverSpec, SpecError, make_specs, spec_key


def test_presets_fill_every_switch():
    ref, pap = NetworkSpec(semantics="reference"), NetworkSpec(semantics="paper")
    for name, value in SEMANTICS["reference"]["network"].items():
        assert getattr(ref, name) == value
    for name, value in SEMANTICS["paper"]["network"].items():
        assert getattr(pap, name) == value
    assert InputSpec(semantics="reference").kind == "samples"
    assert InputSpec(semantics="paper").kind == "exact"


def test_explicit_switch_wins_over_preset():
    net = NetworkSpec(semantics="reference", ltc_decay="signed")
    assert net.ltc_decay == "signed" and net.recurrence == "ltc_only"


def test_std_vs_variance_scaling():
    ref = NetworkSpec(width=100, sigma_w2=2.0, sigma_b2=1.0, semantics="reference")
    pap = NetworkSpec(width=100, sigma_w2=2.0, sigma_b2=1.0, semantics="paper")
    assert ref.weight_std == 2.0 and ref.bias_std == 1.0          # label used as a std, no 1/k
    assert pap.weight_std == pytest.approx(math.sqrt(2.0 / 100))  # N(0, σ_w²/k): a variance
    assert NetworkSpec(sigma_b2=4.0, semantics="paper").bias_std == 2.0


def test_hardtanh_variant():
    assert NetworkSpec(activation="hardtanh", semantics="reference").phi == "hardtanh_matlab"
    assert NetworkSpec(activation="hardtanh", semantics="paper").phi == "hardtanh"
    assert NetworkSpec(activation="hardtanh_matlab", semantics="paper").phi == "hardtanh_matlab"


@pytest.mark.parametrize("kwargs, field", [
    (dict(width=-3), "width"), (dict(width=1), "width"), (dict(width=2.5), "width"),
    (dict(depth=0), "depth"), (dict(activation="swish"), "activation"),
    (dict(model="lstm"), "model"), (dict(sigma_w2=0), "sigma_w2"), (dict(sigma_w2=float("nan")), "sigma_w2"),
    (dict(sigma_b2=-1), "sigma_b2"), (dict(semantics="both"), "semantics"),
    (dict(recurrence="full"), "recurrence"), (dict(width=True), "width"),
])
def test_network_errors_name_field_rule_value(kwargs, field):
    with pytest.raises(SpecError) as e:
        NetworkSpec(**kwargs)
    msg = str(e.value)
    assert msg.startswith(field) and "got" in msg and repr(list(kwargs.values())[0]) in msg


@pytest.mark.parametrize("kwargs, field", [
    (dict(rtol=0), "rtol"), (dict(atol=-1e-3), "atol"), (dict(method="ode45"), "method"),
    (dict(backend="scipy", method="euler"), "method"),
    (dict(backend="scipy", controller="matlab"), "controller"),
    (dict(refine=0), "refine"), (dict(grid_points=1), "grid_points"), (dict(max_steps=0), "max_steps"),
    (dict(backend="jax"), "backend"), (dict(backend="torch", method="LSODA"), "method"),
    (dict(backend="torch", max_seconds=5.0), "max_seconds"),
    (dict(device="cuda", method="BDF"), "method"),
])
def test_solver_errors(kwargs, field):
    with pytest.raises(SpecError, match=f"^{field}"):
        SolverSpec(**kwargs)


@pytest.mark.parametrize("kwargs, backend", [
    ({}, "numba"), (dict(method="RK23"), "numba"),
    (dict(method="RK45", max_seconds=3.0), "numba"),   # numba checks a wall-time limit too
    (dict(method="DOP853", max_seconds=3.0), "scipy"),
    (dict(method="LSODA"), "scipy"), (dict(method="DOP853"), "scipy"), (dict(method="BDF"), "scipy"),
    (dict(method="fused"), "torch"), (dict(method="rk4"), "torch"),
    (dict(dtype="float32"), "torch"),
])
def test_auto_backend_resolves_once_and_is_recorded(kwargs, backend):
    sol = SolverSpec(**kwargs)
    assert sol.backend == backend and sol.to_dict()["backend"] == backend
    assert SolverSpec(backend="auto", **kwargs) == SolverSpec(backend=backend, **kwargs)


def test_auto_backend_keeps_the_semantics_controller():
    assert SolverSpec(semantics="reference").controller == "matlab"   # numba has ode45's rules
    assert SolverSpec(semantics="paper").controller == "scipy"
    assert SolverSpec(semantics="reference", method="BDF").controller == "scipy"


def test_make_specs_routes_fields_and_rejects_unknown():
    net, inp, sol = make_specs("paper", model="ctrnn", width=10, input_kind="samples", n_samples=50,
                               rtol=1e-6, output="grid")
    assert (net.model, net.width, inp.kind, inp.n_samples, sol.rtol, sol.output) == (
        "ctrnn", 10, "samples", 50, 1e-6, "grid")
    with pytest.raises(SpecError, match="unknown spec field 'widht'"):
        make_specs(widht=3)


def test_spec_key_is_stable_and_content_based():
    a = spec_key(NetworkSpec(width=10), extra=[0, 1])
    assert a == spec_key(NetworkSpec(width=10), extra=[0, 1])
    assert a != spec_key(NetworkSpec(width=11), extra=[0, 1])
    assert a != spec_key(NetworkSpec(width=10), extra=[0, 2])
    assert len(a) == 16


def test_round_trip_dict():
    net = NetworkSpec(model="node", width=7, semantics="paper", ltc_A="column_sums")
    assert NetworkSpec.from_dict(net.to_dict()) == net
    with pytest.raises(SpecError, match="no field"):
        NetworkSpec.from_dict({"wdth": 3})
