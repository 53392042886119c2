"""Metrics against references: sklearn, scipy, torchmetrics, POT, and hand-computed cases."""

import numpy as np
import pytest
from scipy import stats

from c2s.eval.metrics import (
    accuracy,
    bootstrap_ci,
    change_agreement,
    frechet_distance,
    macro_f1,
    mmd_rbf,
    overlap_pct,
    wasserstein,
)


def test_accuracy_and_macro_f1_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score

    true = ["B", "T", "T", "NK", "B", "T"]
    pred = ["B", "T", "NK", "NK", "T", "T"]
    assert accuracy(pred, true).mean() == pytest.approx(accuracy_score(true, pred))
    assert macro_f1(pred, true) == pytest.approx(f1_score(true, pred, average="macro"))


def test_overlap_by_hand():
    assert overlap_pct([["A", "B", "X"], []], [["A", "B", "C", "D"], ["A"]]).tolist() == [50.0, 0.0]


def test_scfid_zero_on_itself_and_grows_with_shift():
    x = np.random.default_rng(0).normal(size=(500, 5))
    assert abs(frechet_distance(x, x)) < 1e-6
    shifts = [frechet_distance(x, x + s) for s in (0.5, 1.0, 2.0)]
    assert shifts == sorted(shifts) and shifts[0] > 0
    assert shifts[1] == pytest.approx(5 * 1.0**2, rel=1e-6)  # mean shift only: |Δμ|² = d·s²


def test_mmd_zero_for_identical_and_matches_hand_formula():
    x = np.random.default_rng(1).normal(size=(40, 3))
    assert abs(mmd_rbf(x, x)) < 1e-12
    a, b = np.array([[0.0]]), np.array([[2.0]])  # σ² = median of {4} = 4: k(a,b) = exp(-4/8)
    assert mmd_rbf(a, b) == pytest.approx(2 - 2 * np.exp(-0.5))
    y = x + 3
    assert mmd_rbf(x, y) > mmd_rbf(x, x + 0.1)


def test_wasserstein_exact_and_sliced():
    x = np.random.default_rng(2).normal(size=(50, 2))
    assert wasserstein(x, x) == pytest.approx(0, abs=1e-9)
    assert wasserstein(x, x + np.array([3.0, 4.0])) == pytest.approx(5.0, rel=1e-6)  # a pure translation
    one_d = wasserstein(x[:, :1], x[:, :1] + 2)
    assert one_d == pytest.approx(stats.wasserstein_distance(x[:, 0], x[:, 0] + 2), rel=1e-6)
    assert wasserstein(x, x + 1, sliced=True) > 0


def test_kendall_and_pearson_match_scipy():
    rng = np.random.default_rng(3)
    control, true = rng.random(30), rng.random(30)
    pred = true + rng.normal(0, 0.2, 30)
    out = change_agreement(pred, true, control)
    assert out["kendall_tau"] == pytest.approx(stats.kendalltau(pred - control, true - control).statistic)
    assert out["pearson_r"] == pytest.approx(stats.pearsonr(pred - control, true - control).statistic)
    program = np.array([0, 3, 5, 7, 11])
    sub = change_agreement(pred, true, control, program)
    assert sub["kendall_tau"] == pytest.approx(
        stats.kendalltau((pred - control)[program], (true - control)[program]).statistic
    )


def test_bootstrap_paired_corrects_resampling_bias():
    from c2s.eval.metrics import bootstrap_paired

    rng = np.random.default_rng(5)
    x, y = list(rng.normal(size=(60, 3))), list(rng.normal(size=(60, 3)) + 0.3)
    fid = lambda a, b: frechet_distance(np.asarray(a), np.asarray(b))  # noqa: E731
    value, lo, hi = bootstrap_paired(fid, x, y, n=200, bounds=(0.0, np.inf))
    assert 0.0 <= lo <= value <= hi


def test_bootstrap_ci_brackets_the_mean():
    scores = np.random.default_rng(4).random(200)
    value, lo, hi = bootstrap_ci(scores, n=500)
    assert lo < value < hi and value == pytest.approx(scores.mean())
    assert bootstrap_ci(np.ones(10)) == (1.0, 1.0, 1.0)


def test_bertscore_matches_torchmetrics():
    from torchmetrics.text.bert import BERTScore

    from c2s.scoring.bertscore import bertscore_f1, default_model_dir

    pred = ["PBMCs from a healthy donor", "monocytes and T cells", "CD14+ Monocyte"]
    ref = ["Peripheral blood cells of a healthy human", "T cells and monocytes", "CD14+ Monocyte"]
    ours = bertscore_f1(pred, ref)
    metric = BERTScore(model_name_or_path=default_model_dir(), num_layers=6)
    reference = [float(metric([p], [r])["f1"]) for p, r in zip(pred, ref)]  # one pair at a time: no reordering
    np.testing.assert_allclose(ours, reference, rtol=1e-5)
    assert ours[2] == pytest.approx(1.0, abs=1e-4) and ours[1] > ours[0]


def test_paired_ci_stays_in_the_metric_range():
    """Bias-shifted intervals used to leave [0, 1]: macro-F1 CIs like [-0.032, 0.353]."""
    from c2s.eval.metrics import bootstrap_paired, macro_f1

    rng = np.random.default_rng(0)
    for seed in range(20):
        true = list(rng.choice(list("ABCDEFGH"), 12))
        pred = [t if rng.random() < 0.2 else "A" for t in true]  # poor: F1 near 0
        v, lo, hi = bootstrap_paired(macro_f1, pred, true, n=200, seed=seed, bounds=(0.0, 1.0))
        assert 0.0 <= lo <= v <= hi <= 1.0
        perfect = bootstrap_paired(macro_f1, true, true, n=200, seed=seed, bounds=(0.0, 1.0))
        assert perfect == (1.0, 1.0, 1.0)
    unclipped = [
        bootstrap_paired(macro_f1, [t if rng.random() < 0.2 else "A" for t in tr], tr, n=200, seed=s)[1]
        for s, tr in enumerate(list(rng.choice(list("ABCDEFGH"), 12)) for _ in range(20))
    ]
    assert min(unclipped) < 0  # the case the bounds exist for does occur
