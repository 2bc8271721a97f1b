"""External truth: the authors' own MATLAB code (run in Octave) on four known networks (SPEC §1b).

At rtol 1e-9 on the 2001-point uniform grid, trajlen's reference semantics must give the lengths that
code computed to <= 1e-3 relative (we see <= 3e-6). Step counts are Octave's and need not match.
"""

import numpy as np
import pandas as pd
import pytest

from trajlen.params import export_mat, import_mat, sample_params
from trajlen.pipeline import Task, measure, trajectory_for
from trajlen.spec import make_specs

ACT = {"Htanh": "hardtanh", "tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu"}


def _rows(octave_dir):
    return [r for _, r in pd.read_csv(octave_dir / "lengths.csv").iterrows()]


def _case_ids():
    return [f"{a}-{m}" for a in ("tanh", "sigmoid", "relu", "Htanh") for m in ("node", "ctrnn", "ltc")]


@pytest.mark.parametrize("backend", ["numba", "scipy"])  # numba: what backend="auto" runs
@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c == "Htanh-ltc" else c
                                  for c in _case_ids()])
def test_lengths_match_authors_code(octave_dir, case, backend):
    act, model = case.split("-")
    (r,) = [r for r in _rows(octave_dir) if r.act == act and r.model == model]
    net, inp, sol = make_specs("reference", model=model, activation=ACT[act], method="RK45",
                               rtol=1e-9, atol=1e-11, output="grid", grid_points=int(r.ngrid),
                               backend=backend)
    params = import_mat(octave_dir / r.param_file)
    task = Task(net, inp, sol)
    row = measure(task, trajectory_for(task, params), 0.0)
    assert row["status"] == "ok"
    assert row["length"] == pytest.approx(r.traj_len, rel=1e-3)
    assert row["l_input"] == pytest.approx(r.input_arclen, rel=1e-9)
    assert 100 * row["var_pc1"] == pytest.approx(r.expl1, abs=0.05)
    assert 100 * row["var_pc2"] == pytest.approx(r.expl2, abs=0.05)


# --- an independent transcription of the original ltc_def.m / ctrnn_def.m / node_def.m -------------

def _htanh_matlab(v):
    # Htanh.m: `if x>=1` on a vector is true only when every element is.
    if np.all(v >= 1):
        return np.ones_like(v)
    if np.all(v <= -1):
        return -np.ones_like(v)
    return v


def _phi(name):
    return {"tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
            "relu": lambda v: np.maximum(0, v), "hardtanh": _htanh_matlab}[name]


def _matlab_rhs(model, act, m, gt, inputs):
    """A loop-per-neuron transcription of the authors' *_def.m on the raw .mat arrays."""
    w_l, E_l, w_l_r, E_l_r = m["w_l"], m["E_l"], m["w_l_r"], m["E_l_r"]
    n, k = w_l.shape[0], w_l.shape[1]
    b_l, b_l_r, tau = m["b_l"].reshape(n, k), m["b_l_r"].reshape(n, k), m["tau"].ravel()
    phi = _phi(act)

    def rhs(t, y):
        g = np.array([np.interp(t, gt, inputs[0]), np.interp(t, gt, inputs[1])])
        dydt = np.zeros(n * k)
        for j in range(n):
            drive = g if j == 0 else y[(j - 1) * k:j * k]
            W = w_l[j, :2, :] if j == 0 else w_l[j]
            net_out = phi(W.T @ drive + b_l[j])
            net_rec = phi(w_l_r[j].T @ y[j * k:(j + 1) * k] + b_l_r[j])
            sl = slice(j * k, (j + 1) * k)
            if model == "node":
                dydt[sl] = net_out
            elif model == "ctrnn":
                dydt[sl] = -y[sl] / tau[sl] + net_out
            else:  # sum(E_l(j,:,i) * net_out(i)) == (column sum of E_l(j)) * net_out(i)
                dydt[sl] = (-y[sl] * (1 / tau[sl] + np.abs(net_out) + np.abs(net_rec))
                            + np.sum(E_l[j], axis=0) * net_out + np.sum(E_l_r[j], axis=0) * net_rec)
        return dydt
    return rhs


def _svd_length(states):
    c = states - states.mean(axis=0)
    u, s, _ = np.linalg.svd(c, full_matrices=False)
    z = u[:, :2] * s[:2]
    return float(np.sum(np.linalg.norm(np.diff(z, axis=0), axis=1)))


@pytest.mark.parametrize("model", ["node", "ctrnn", "ltc"])
@pytest.mark.parametrize("act", ["tanh", "relu", "hardtanh"])
def test_exported_networks_agree_with_independent_transcription(tmp_path, model, act):
    from scipy.integrate import solve_ivp
    from scipy.io import loadmat

    net, inp, sol = make_specs("reference", model=model, activation=act, width=12, depth=2,
                               rtol=1e-9, atol=1e-11, output="grid", grid_points=801)
    params = sample_params(net, seed=7, sample=3)
    path = tmp_path / "net.mat"
    export_mat(params, path, net, seed=7)
    m = loadmat(path)
    assert m["w_l"].shape == (2, 12, 12) and m["tau"].shape == (24, 1)
    gt = np.linspace(0, 2 * np.pi, 100)
    rhs = _matlab_rhs(model, act, m, gt, np.stack([np.sin(gt), np.cos(gt)]))
    tgrid = np.linspace(0, 2 * np.pi, 801)
    ref = solve_ivp(rhs, (0, 2 * np.pi), np.zeros(24), method="RK45", rtol=1e-9, atol=1e-11,
                    t_eval=tgrid)
    assert ref.status == 0
    task = Task(net, inp, sol)
    traj = trajectory_for(task, import_mat(path))
    row = measure(task, traj, 0.0)
    for layer in range(2):
        expected = _svd_length(ref.y.T[:, layer * 12:(layer + 1) * 12])
        assert row["lengths"][layer] == pytest.approx(expected, rel=1e-4)
