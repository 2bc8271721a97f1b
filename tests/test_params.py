import numpy as np
import pytest

from trajlen.params import (
    Params,
    export_mat,
    import_mat,
    load_params,
    sample_params,
    save_params,
    structure_key,
)
from trajlen.spec import NetworkSpec, SpecError


def test_same_network_whatever_the_order():
    net = NetworkSpec(width=8, depth=2)
    a = [sample_params(net, 3, s) for s in range(4)]
    b = [sample_params(net, 3, s) for s in reversed(range(4))][::-1]
    for pa, pb in zip(a, b):
        for name, arr in pa.arrays().items():
            np.testing.assert_array_equal(arr, getattr(pb, name))
    assert not np.array_equal(a[0].W, a[1].W)
    assert not np.array_equal(sample_params(net, 4, 0).W, a[0].W)


def test_common_random_numbers_across_models_and_scaling():
    ltc = NetworkSpec(model="ltc", width=6, sigma_w2=2.0, semantics="reference")
    node = NetworkSpec(model="node", width=6, sigma_w2=4.0, semantics="reference")
    pap = NetworkSpec(model="ltc", width=6, sigma_w2=2.0, semantics="paper")
    p1, p2, p3 = (sample_params(s, 0, 0) for s in (ltc, node, pap))
    np.testing.assert_allclose(p2.W, 2 * p1.W)
    np.testing.assert_allclose(p3.W, p1.W / 2.0 * np.sqrt(2.0 / 6))
    assert structure_key(6, 1) != structure_key(6, 2)


@pytest.mark.parametrize("semantics, w_var", [("reference", 4.0), ("paper", 2.0 / 200)])
def test_draw_statistics(semantics, w_var):
    net = NetworkSpec(width=200, sigma_w2=2.0, sigma_b2=1.0, semantics=semantics)
    p = sample_params(net, 0, 0)
    # 40 000 draws: the sample variance is within ±2.5% (≈ 3.5 σ) of the target.
    assert p.W.var() == pytest.approx(w_var, rel=0.025)
    assert p.E.var() == pytest.approx(w_var, rel=0.025)
    assert np.all(p.tau > 0)
    assert np.mean(p.tau) == pytest.approx(np.sqrt(2 / np.pi), rel=0.2)  # E|N(0,1)|


def test_save_load_round_trip(tmp_path):
    p = sample_params(NetworkSpec(width=5, depth=3), 1, 2)
    save_params(p, tmp_path / "p.npz")
    q = load_params(tmp_path / "p.npz")
    for name, arr in p.arrays().items():
        np.testing.assert_array_equal(arr, getattr(q, name))


def test_mat_export_layout_and_round_trip(tmp_path):
    from scipy.io import loadmat

    net = NetworkSpec(width=5, depth=3)
    p = sample_params(net, 1, 2)
    export_mat(p, tmp_path / "p.mat", net, seed=1)
    m = loadmat(tmp_path / "p.mat")
    assert m["w_l"].shape == (3, 5, 5) and m["b_l"].shape == (3, 5, 1)
    assert m["tau"].shape == (15, 1) and m["E_l_r"].shape == (3, 5, 5)
    np.testing.assert_array_equal(m["tau"][5:10, 0], p.tau[1])  # layer-major neuron order
    q = import_mat(tmp_path / "p.mat")
    for name, arr in p.arrays().items():
        np.testing.assert_array_equal(arr, getattr(q, name))


def test_import_original_fixture_sets_A_to_column_sums(octave_dir):
    p = import_mat(octave_dir / "params_tanh_k100_n1_seed1.mat")
    assert (p.depth, p.width) == (1, 100)
    np.testing.assert_allclose(p.A, p.E.sum(axis=1))


def test_bad_files_raise_spec_error(tmp_path):
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(SpecError, match="not a readable"):
        load_params(tmp_path / "junk.npz")
    with pytest.raises(SpecError, match="not a readable"):
        import_mat(tmp_path / "missing.mat")
    from scipy.io import savemat
    savemat(tmp_path / "partial.mat", {"w_l": np.zeros((1, 3, 3))})
    with pytest.raises(SpecError, match="lacks"):
        import_mat(tmp_path / "partial.mat")
    p = sample_params(NetworkSpec(width=3), 0, 0)
    bad = Params(**{**p.arrays(), "tau": -p.tau})
    save_params(bad, tmp_path / "neg.npz")
    with pytest.raises(SpecError, match="tau must be > 0"):
        load_params(tmp_path / "neg.npz")


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed(seed):
    with pytest.raises(SpecError, match="seed"):
        sample_params(NetworkSpec(width=3), seed, 0)
