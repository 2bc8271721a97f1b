"""Your own network: a network trained here and a random one go through ``--module`` into rows that
record where they came from; ``trajlen.measure`` takes modules and Python vector fields; ``to_ncps``
round-trips; ``--module`` never imports from the current directory."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest

import trajlen
from trajlen.models import field_for
from trajlen.params import from_ncps, sample_params, to_ncps
from trajlen.spec import InputSpec, NetworkSpec, SpecError
from trajlen.sweep import main
from trajlen.user import UserODE, load_source

RANDOM_FACTORY = """
import torch
from ncps.torch import LTC

def make():
    torch.manual_seed(7)
    return LTC(2, 6)
"""


def _train_cfc(steps=200):
    """A tiny ncps CfC trained to map the circle to sin(2t) (seconds): its parameters move."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("ncps")
    from ncps.torch import CfC

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = CfC(2, 6, backbone_units=16).double()
    t = torch.linspace(0, 2 * math.pi, 12, dtype=torch.float64)
    x = torch.stack([torch.sin(t), torch.cos(t)], -1)[None]
    y = torch.sin(2 * t)[None, :, None]
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        out, _ = model(x)
        loss = ((out[..., :1] - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    torch.set_num_threads(threads)
    assert losses[-1] < 0.1 * losses[0]
    return model


def test_trained_and_random_networks_through_module(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    trained = _train_cfc()
    ckpt = tmp_path / "trained.pt"
    torch.save(trained, ckpt)
    factory = tmp_path / "rand_net.py"
    factory.write_text(RANDOM_FACTORY)
    out = tmp_path / "store"
    argv = ["--module", str(ckpt), f"{factory}:make", "--jobs", "1", "--quiet", "--out", str(out),
            "--n-samples", "50", "--backend", "scipy"]
    rc = main(argv)
    assert rc == 0, capsys.readouterr().err
    rows = pd.read_parquet(out / "results.parquet").set_index("model")
    assert len(rows) == 2 and set(rows["status"]) == {"ok"} and set(rows["width"]) == {6}
    assert rows.loc["cfc", "module_path"] == str(ckpt.resolve())
    assert rows.loc["ltc_ncps", "module_path"] == f"{factory.resolve()}:make"
    assert rows["module_sha256"].nunique() == 2 and rows["sigma_w2"].isna().all()
    assert rows.loc["cfc", "backbone_units"] == 16 and math.isnan(rows.loc["cfc", "L"])
    assert rows.loc["ltc_ncps", "L"] > 0 and rows["length"].gt(0).all()
    # the row's parameters are the trained module's, read exactly
    p = load_source(str(ckpt)).params
    q = from_ncps(trained)
    assert all(np.array_equal(p.tensors[n], v) for n, v in q.tensors.items())
    # a rerun computes nothing new (the task ids hold the parameters' hash)
    assert main(argv) == 0
    assert len(pd.read_parquet(out / "results.parquet")) == 2


def test_module_never_imports_from_the_cwd(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ncps")
    (tmp_path / "here_net.py").write_text(RANDOM_FACTORY)
    monkeypatch.chdir(tmp_path)
    assert main(["--module", "here_net:make", "--dry-run", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "current directory is not searched" in err and len(err.splitlines()) == 1
    assert main(["--module", "./here_net.py:make", "--dry-run", "--out", str(tmp_path / "s")]) == 0
    for argv, needle in ((["--module", "./here_net.py:make", "--width", "4"], "--width"),
                         (["--module", "./here_net.py:make", "--activation", "tanh"], "--activation"),
                         (["--module", "./here_net.py:nope"], "nope")):
        assert main(argv + ["--dry-run", "--out", str(tmp_path / "s")]) == 2
        assert needle in capsys.readouterr().err


def test_measure_a_python_vector_field(tmp_path):
    """A linear ODE dx/dt = −x + (I₁, I₂, 0): trajlen.measure's row, with and without a Jacobian,
    and to a store."""
    A = -np.eye(3)

    def f(t, x, I):
        return A @ x + np.array([I[0], I[1], 0.0])

    row = trajlen.measure(f, state_size=3, semantics="paper", method="Radau", rtol=1e-8, atol=1e-10)
    assert row["model"] == "ode" and row["status"] == "ok" and row["backend"] == "scipy"
    row2 = trajlen.measure(UserODE(f, 3, jacobian=lambda t, x, I: A), semantics="paper", method="Radau",
                           rtol=1e-8, atol=1e-10, out=str(tmp_path / "s"))
    assert row2["length"] == pytest.approx(row["length"], rel=1e-6)
    assert len(pd.read_parquet(tmp_path / "s" / "results.parquet")) == 1
    F = field_for(NetworkSpec(model="ode", width=3), InputSpec(), UserODE(f, 3))
    np.testing.assert_allclose(F.jacobian(np.array([0.3]), np.ones((1, 3)))[0], A, atol=1e-8)
    with pytest.raises(SpecError, match="state size"):
        trajlen.measure(f)
    with pytest.raises(SpecError, match="backend"):
        trajlen.measure(f, state_size=3, backend="numba")


def test_measure_torch_cells_and_cfc():
    torch = pytest.importorskip("torch")
    pytest.importorskip("ncps")
    from ncps.torch import CfC

    torch.manual_seed(3)
    rows = [trajlen.measure(torch.nn.GRUCell(2, 5), n_samples=50), trajlen.measure(CfC(2, 5), n_samples=50)]
    assert [r["model"] for r in rows] == ["cell", "cfc"]
    assert all(r["status"] == "ok" and math.isnan(r["L"]) and r["n_accepted"] == 49 for r in rows)


@pytest.mark.parametrize("model", ["ltc_ncps", "cfc"])
def test_to_ncps_round_trips(model):
    pytest.importorskip("torch")
    pytest.importorskip("ncps")
    p = sample_params(NetworkSpec(model=model, width=7), 0, 4)
    for implicit in (True, False):
        if model == "cfc" and not implicit:
            continue
        q = from_ncps(to_ncps(p, implicit_param_constraints=implicit))
        for name, v in p.arrays().items():
            np.testing.assert_allclose(q.arrays()[name], v, rtol=1e-15, atol=1e-15, err_msg=name)
    # and the measured rows of the random network and of its ncps module are the same
    a = trajlen.measure(to_ncps(p), semantics="paper", backend="scipy")
    from trajlen.pipeline import Task, run_tasks
    from trajlen.spec import make_specs

    net, inp, sol = make_specs("paper", model=model, width=7, backend="scipy")
    b = run_tasks([Task(net, inp, sol, 0, 4)])[0]
    assert a["length"] == pytest.approx(b["length"], rel=1e-12)
    assert os.path.basename(a["module_path"]).startswith("memory:")
