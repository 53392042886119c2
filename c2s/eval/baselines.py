"""Simple baselines that every report shows beside the model."""

from __future__ import annotations

from collections import Counter

import numpy as np


def majority(train_labels: list[str], n: int) -> list[str]:
    """The most common training label, for every test example (ties: alphabetical first)."""
    counts = Counter(train_labels)
    top = max(sorted(counts), key=lambda k: counts[k])
    return [top] * n


def knn_pca(
    train_x: np.ndarray, train_y: list[str], test_x: np.ndarray, k: int = 5, n_pcs: int = 50, seed: int = 0
) -> list[str]:
    """kNN (k, majority vote) on PCA of expression fitted on the training cells."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier

    pca = PCA(n_components=min(n_pcs, train_x.shape[0] - 1, train_x.shape[1]), random_state=seed).fit(train_x)
    clf = KNeighborsClassifier(n_neighbors=min(k, len(train_y))).fit(pca.transform(train_x), train_y)
    return list(clf.predict(pca.transform(test_x)))


def same_label_sampler(
    train_genes: list[list[str]], train_labels: list[str], test_labels: list[str], seed: int = 0
) -> list[list[str]]:
    """For each test example, a random training cell of the same label (any cell if none)."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, lab in enumerate(train_labels):
        by_label.setdefault(lab, []).append(i)
    everyone = list(range(len(train_genes)))
    return [train_genes[int(rng.choice(by_label.get(lab, everyone)))] for lab in test_labels]


def marginal_sampler(train_genes: list[list[str]], n: int, length: int, seed: int = 0) -> list[list[str]]:
    """Lists of ``length`` genes drawn without replacement ∝ how often each gene occurs in training lists."""
    rng = np.random.default_rng(seed)
    counts = Counter(g for genes in train_genes for g in genes)
    names = np.array(sorted(counts))
    p = np.array([counts[g] for g in names], dtype=float)
    p /= p.sum()
    k = min(length, names.size)
    return [list(rng.choice(names, size=k, replace=False, p=p)) for _ in range(n)]


def constant_text(train_targets: list[str], n: int) -> list[str]:
    """The most common training answer, for every test example."""
    return majority(train_targets, n)
