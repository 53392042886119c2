"""Inverse transform: the fit against scipy/numpy, R² on real data, reconstruction rules."""

import numpy as np
import pytest
import scipy.stats as st

from c2s.sentences import InverseFit, cell_sentence_indices, fit_inverse, reconstruct


def test_fit_on_pbmc_raw(pbmc):
    fit = fit_inverse(pbmc, use_raw=True, n_cells=1000, seed=0)
    assert fit.r2 >= 0.85
    assert fit.slope < 0 and fit.intercept > 0
    assert fit.n_cells == pbmc.n_obs


def test_fit_matches_independent_computation(pbmc):
    fit = fit_inverse(pbmc, use_raw=True, n_cells=200, seed=3, top_k=100)
    rows = np.sort(np.random.default_rng(3).choice(pbmc.n_obs, 200, replace=False))
    x = pbmc.raw.X[rows].toarray()
    xs, ys = [], []
    for row in x:
        vals = np.sort(row[row > 0])[::-1][:100]  # ties do not change the values at each rank
        xs.append(np.log10(1 + np.arange(vals.size)))
        ys.append(vals)
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    slope, intercept = np.polyfit(xs, ys, 1)
    assert fit.slope == pytest.approx(slope, rel=1e-6)
    assert fit.intercept == pytest.approx(intercept, rel=1e-6)
    assert fit.r2 == pytest.approx(st.pearsonr(xs, ys).statistic ** 2, rel=1e-6)
    assert fit.spearman_r == pytest.approx(st.spearmanr(xs, ys).statistic, rel=1e-6)
    assert fit.n_points == xs.size


def test_fit_is_seeded(pbmc):
    a = fit_inverse(pbmc, use_raw=True, n_cells=100, seed=1)
    assert a == fit_inverse(pbmc, use_raw=True, n_cells=100, seed=1)
    assert a != fit_inverse(pbmc, use_raw=True, n_cells=100, seed=2)


def test_json_round_trip(tmp_path, pbmc):
    fit = fit_inverse(pbmc, use_raw=True, n_cells=50)
    fit.save(tmp_path / "fit.json")
    assert InverseFit.load(tmp_path / "fit.json") == fit


def test_reconstruct_unknown_and_repeats():
    fit = InverseFit(
        slope=-1.0, intercept=3.0, r2=1, pearson_r=-1, spearman_r=-1, n_cells=1, n_points=1, top_k=None, seed=0
    )
    genes = ["A", "B", "C", "D"]
    rec = reconstruct(["C NOTAGENE A C B", ["D"]], fit, genes)
    # cleaned first sentence: C, A, B at ranks 0, 1, 2
    expected = np.zeros((2, 4), np.float32)
    expected[0, [2, 0, 1]] = [3.0, 3.0 - np.log10(2), 3.0 - np.log10(3)]
    expected[1, 3] = 3.0
    np.testing.assert_allclose(rec.expression, expected, rtol=1e-6)
    assert rec.n_unknown.tolist() == [1, 0] and rec.n_repeated.tolist() == [1, 0]


def test_reconstruction_tracks_real_expression(pbmc):
    fit = fit_inverse(pbmc, use_raw=True)
    cs = cell_sentence_indices(pbmc, top_k=100, use_raw=True)
    rec = reconstruct(cs.render(range(50)), fit, cs.gene_names)
    x = pbmc.raw.X[:50].toarray()
    r = [st.pearsonr(rec.expression[i], x[i]).statistic for i in range(50)]
    assert np.mean(r) > 0.8


@pytest.mark.parametrize("seed", range(4))
def test_fit_points_equals_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    rank = rng.integers(0, 30, 500).astype(float)  # many tied ranks and tied values
    value = np.round(3.0 - np.log10(1 + rank) + rng.normal(0, 0.3, rank.size), 1)
    from c2s.sentences.inverse import fit_points

    fit = fit_points(rank, value, n_cells=10, top_k=None, seed=0)
    x = np.log10(1 + rank)
    reg = st.linregress(x, value)
    assert fit.slope == pytest.approx(reg.slope, rel=1e-9)
    assert fit.intercept == pytest.approx(reg.intercept, rel=1e-9)
    assert fit.pearson_r == pytest.approx(reg.rvalue, rel=1e-9)
    assert fit.spearman_r == pytest.approx(st.spearmanr(x, value).statistic, rel=1e-9)
    flat = fit_points(rank, np.ones_like(rank), n_cells=10, top_k=None, seed=0)
    assert flat.slope == 0.0 and flat.pearson_r == 0.0 and np.isnan(flat.spearman_r)
