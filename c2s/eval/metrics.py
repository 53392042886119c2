"""Metrics of the preprint, each checked against a reference in tests/test_metrics.py.

Label tasks: accuracy and macro-F1 (sklearn). Gene lists: overlap %. Text: BERTScore F1
(torchmetrics; see c2s/scoring/bertscore.py). Generated cells: scFID, MMD (RBF, median
heuristic), Wasserstein (POT). Perturbation: Kendall τ and Pearson r of expression changes.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, stats

from c2s.scoring.overlap import overlap_pct  # noqa: F401  (one definition, shared with the gene_overlap reward)


def accuracy(pred: list[str], true: list[str]) -> np.ndarray:
    """Per-example 0/1 correctness (float array); mean is the accuracy."""
    return np.array([p == t for p, t in zip(pred, true)], dtype=float)


def macro_f1(pred: list[str], true: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(true, pred, average="macro", labels=sorted(set(true)), zero_division=0))


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to rows of x and y (n, d):
    |μx − μy|² + Tr(Σx + Σy − 2 (Σx Σy)^½). scFID when x, y are cell embeddings."""
    mu_x, mu_y = x.mean(0), y.mean(0)
    cx, cy = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    covmean = linalg.sqrtm(cx @ cy)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(np.sum((mu_x - mu_y) ** 2) + np.trace(cx + cy - 2 * covmean))


def mmd_rbf(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> float:
    """Biased MMD² with an RBF kernel exp(-|a-b|² / (2σ²)); σ² = median pairwise squared distance
    of the pooled sample when ``bandwidth`` is None (median heuristic)."""
    z = np.vstack([x, y])
    d2 = np.sum(z**2, 1)[:, None] + np.sum(z**2, 1)[None, :] - 2 * z @ z.T
    d2 = np.maximum(d2, 0)
    if bandwidth is None:
        off = d2[np.triu_indices_from(d2, k=1)]
        sigma2 = float(np.median(off)) if off.size and np.median(off) > 0 else 1.0
    else:
        sigma2 = bandwidth**2
    k = np.exp(-d2 / (2 * sigma2))
    n = len(x)
    return float(k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean())


def wasserstein(x: np.ndarray, y: np.ndarray, sliced: bool = False, n_projections: int = 200, seed: int = 0) -> float:
    """Wasserstein-2 distance between point clouds (uniform weights), exact EMD or sliced (POT)."""
    import ot

    if sliced:
        return float(ot.sliced_wasserstein_distance(x, y, n_projections=n_projections, seed=seed))
    m = ot.dist(x, y)  # squared Euclidean
    cost = ot.emd2(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), m)
    return float(np.sqrt(cost))


def change_agreement(
    pred: np.ndarray, true: np.ndarray, control: np.ndarray, genes: np.ndarray | None = None
) -> dict[str, float]:
    """Kendall τ and Pearson r between predicted and true expression changes (vs control),
    over all genes or the column indices ``genes`` (a gene program). Vectors are (n_genes,)."""
    dp, dt = pred - control, true - control
    if genes is not None:
        dp, dt = dp[genes], dt[genes]
    if np.std(dp) == 0 or np.std(dt) == 0:
        return {"kendall_tau": 0.0, "pearson_r": 0.0}
    return {
        "kendall_tau": float(stats.kendalltau(dp, dt).statistic),
        "pearson_r": float(stats.pearsonr(dp, dt).statistic),
    }


def ci(estimate: tuple[float, float, float]) -> dict[str, float]:
    """A (value, low, high) estimate as the report's ``{"value", "ci_low", "ci_high"}``."""
    v, lo, hi = estimate
    return {"value": v, "ci_low": lo, "ci_high": hi}


def bootstrap_ci(scores: np.ndarray, n: int = 1000, seed: int = 0, stat=np.mean) -> tuple[float, float, float]:
    """(value, low, high): ``stat`` of per-example scores with a 95% percentile bootstrap CI."""
    scores = np.asarray(scores, dtype=float)
    if scores.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, scores.size, size=(n, scores.size))
    boots = np.array([stat(scores[i]) for i in idx])
    return float(stat(scores)), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def bootstrap_paired(
    fn, a: list, b: list, n: int = 1000, seed: int = 0, bounds: tuple[float, float] = (-np.inf, np.inf)
) -> tuple[float, float, float]:
    """(value, low, high) of a set-level metric fn(a, b), resampling examples (paired lists).

    Set-level statistics such as scFID or MMD are biased under resampling with replacement
    (duplicated points change the spread), so the percentile interval is shifted by the
    estimated bias (mean of the resamples − value). The shifted interval is clipped to the
    metric's range ``bounds`` ((0, 1) for F1, (-1, 1) for correlations, (0, inf) for distances)
    and always contains the value.
    """
    rng = np.random.default_rng(seed)
    k = len(a)
    boots = []
    for _ in range(n):
        i = rng.integers(0, k, size=k)
        boots.append(fn([a[j] for j in i], [b[j] for j in i]))
    value = float(fn(a, b))
    bias = float(np.mean(boots)) - value
    lo, hi = float(np.percentile(boots, 2.5)) - bias, float(np.percentile(boots, 97.5)) - bias
    lo, hi = float(np.clip(min(lo, value), *bounds)), float(np.clip(max(hi, value), *bounds))
    return value, lo, hi
