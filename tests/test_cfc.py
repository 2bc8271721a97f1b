"""CfC (``model="cfc"``): its hidden states over the input samples are ncps's CfC forward pass in each
mode, its draws follow ncps's initialisation, and it goes through the pipeline as a map (L is NaN)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trajlen.inputs import input_at, sample_times
from trajlen.models import cfc
from trajlen.params import load_params, sample_params, save_params
from trajlen.pipeline import Task, run_tasks
from trajlen.spec import NetworkSpec, SpecError, make_specs

K = 5


def _ncps_forward(module, inp):
    """ncps's CfC on the sample sequence ``I(t_0) … I(t_{n−2})`` with timespans δt: ``(n − 1, k)``."""
    import torch

    ts = sample_times(inp)
    x = torch.tensor(input_at(ts[:-1], inp))[None]
    dt = torch.full((1, len(ts) - 1, 1), inp.dt, dtype=torch.float64)
    with torch.no_grad():
        out, h = module(x, torch.zeros(1, module.state_size, dtype=torch.float64), timespans=dt)
    assert np.array_equal(out.numpy()[0, -1], h.numpy()[0])
    return out.numpy()[0]


@pytest.mark.parametrize("mode", cfc.MODES)
@pytest.mark.parametrize("act, layers", [("lecun_tanh", 1), ("gelu", 2), ("silu", 0)])
def test_hidden_states_are_ncps_forward(mode, act, layers):
    pytest.importorskip("torch")
    pytest.importorskip("ncps")
    from trajlen.params import to_ncps

    net, inp, sol = make_specs("reference", model="cfc", width=K, cfc_mode=mode, activation=act,
                               backbone_units=16, backbone_layers=layers, n_samples=60)
    p = sample_params(net, 0, 2)
    x = cfc.run(p, input_at(sample_times(inp), inp), inp.dt)
    np.testing.assert_allclose(x[1:], _ncps_forward(to_ncps(p), inp), rtol=0, atol=1e-10)


@pytest.mark.parametrize("mode", cfc.MODES)
def test_an_ncps_initialised_cfc_reads_back_exactly(mode):
    torch = pytest.importorskip("torch")
    pytest.importorskip("ncps")
    from ncps.torch import CfC

    from trajlen.params import from_ncps, to_ncps

    torch.manual_seed(0)
    m = CfC(2, K, mode=mode).double()
    p = from_ncps(m)
    assert p.spec_fields() == dict(model="cfc", width=K, depth=1, cfc_mode=mode, activation="lecun_tanh",
                                   backbone_units=128, backbone_layers=1)
    _, inp, _ = make_specs("paper", model="cfc", width=K, cfc_mode=mode, n_samples=50)
    x = cfc.run(p, input_at(sample_times(inp), inp), inp.dt)
    np.testing.assert_allclose(x[1:], _ncps_forward(m, inp), rtol=0, atol=1e-10)
    q = from_ncps(to_ncps(p))
    assert all(np.array_equal(q.tensors[n], v) for n, v in p.tensors.items())


def test_draws_follow_ncps_initialisation():
    net = NetworkSpec(model="cfc", width=40, cfc_mode="pure", backbone_units=64)
    p = sample_params(net, 0, 0)
    assert p.spec_fields()["backbone_units"] == 64 and p.mode == "pure"
    for name, v in p.tensors.items():
        if v.ndim == 2:
            bound = math.sqrt(6 / (v.shape[0] + v.shape[1]))
        else:
            bound = 1 / math.sqrt(p.tensors[name.replace("bias", "weight")].shape[1])
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.9 * bound, name
    assert set(p.tensors) >= {"w_tau", "A"} and "ff2_weight" not in p.tensors


def test_spec_rules_and_npz(tmp_path):
    with pytest.raises(SpecError, match="cfc_mode"):
        NetworkSpec(model="ltc", cfc_mode="pure")
    with pytest.raises(SpecError, match="activation with model cfc"):
        NetworkSpec(model="cfc", activation="sigmoid")
    assert NetworkSpec(model="cfc").activation == "lecun_tanh"
    p = sample_params(NetworkSpec(model="cfc", width=K, cfc_mode="no_gate", activation="relu"), 0, 1)
    save_params(p, tmp_path / "c.npz")
    q = load_params(tmp_path / "c.npz")
    assert (q.mode, q.activation) == ("no_gate", "relu")
    assert all(np.array_equal(q.tensors[n], v) for n, v in p.tensors.items())


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_rows_of_a_map(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    net, inp, sol = make_specs("reference", model="cfc", width=K, n_samples=32, backend=backend)
    row = run_tasks([Task(net, inp, sol, 0, 3)])[0]
    assert row["status"] == "ok" and row["n_accepted"] == 31 and row["n_points"] == 32
    assert math.isnan(row["L"]) and math.isnan(row["steps_per_interval"]) and math.isnan(row["tau_min"])
    assert row["length"] > 0 and row["cfc_mode"] == "default" and row["sigma_w2"] is None
    assert "no ODE solver ran" in row["message"]
