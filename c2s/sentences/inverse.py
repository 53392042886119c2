"""Inverse transform: from a gene's rank in a cell sentence back to its expression.

Model: ``expression ≈ intercept + slope · log10(1 + rank)``, rank counted from 0, fitted by
least squares over the expressed genes of seeded, sampled cells.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import scipy.sparse as sp

from c2s.atomic import write_json_atomic
from c2s.errors import C2SInputError

if TYPE_CHECKING:
    import anndata as ad


@dataclass(frozen=True)
class InverseFit:
    """Fitted rank -> expression map.

    ``pearson_r`` and ``spearman_r`` correlate expression with log10(1 + rank) (negative:
    expression falls with rank); ``r2`` is the linear fit's coefficient of determination.
    """

    slope: float
    intercept: float
    r2: float
    pearson_r: float
    spearman_r: float
    n_cells: int
    n_points: int
    top_k: int | None
    seed: int

    def predict(self, rank: np.ndarray) -> np.ndarray:
        """Expression (log-normalised units) at 0-based ``rank``; clipped at 0."""
        rank = np.asarray(rank, dtype=np.float64)
        return np.maximum(self.intercept + self.slope * np.log10(1.0 + rank), 0.0)

    def save(self, path: str | Path) -> None:
        write_json_atomic(path, asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> "InverseFit":
        return cls(**json.loads(Path(path).read_text()))


def _rank_values(chunk: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rank, expression) pairs of every kept gene of every row, in sentence order."""
    chunk = chunk.copy()
    chunk.sort_indices()
    from c2s.sentences.topk import topk_indices

    idx, lengths = topk_indices(chunk, k)
    ranks, values = [], []
    for i in range(chunk.shape[0]):
        s, e = chunk.indptr[i], chunk.indptr[i + 1]
        sel = idx[i, : lengths[i]]
        pos = np.searchsorted(chunk.indices[s:e], sel)
        values.append(chunk.data[s:e][pos])
        ranks.append(np.arange(lengths[i]))
    if not ranks:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(ranks).astype(np.float64), np.concatenate(values).astype(np.float64)


def sample_rank_expression(
    source, n_cells: int = 1000, seed: int = 0, top_k: int | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """(rank, expression, n_sampled): every kept gene of ``n_cells`` cells drawn with ``seed``.
    ``source``: one Source (c2s.io.sources), or a list of them read as one dataset (cells drawn
    uniformly over all files, so every file contributes in proportion to its size)."""
    sources = list(source) if isinstance(source, (list, tuple)) else [source]
    sizes = np.array([s.n_obs for s in sources], dtype=np.int64)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(int(sizes.sum()), size=min(n_cells, int(sizes.sum())), replace=False))
    edges = np.concatenate([[0], np.cumsum(sizes)])
    ranks, values = [np.zeros(0)], [np.zeros(0)]
    for s, lo, hi in zip(sources, edges[:-1], edges[1:]):
        mine = rows[(rows >= lo) & (rows < hi)] - lo
        if mine.size:
            k = s.n_vars if top_k is None else min(int(top_k), s.n_vars)
            rank, value = _rank_values(s.read_rows(mine), k)
            ranks.append(rank)
            values.append(value)
    return np.concatenate(ranks), np.concatenate(values), int(rows.size)


def _average_ranks(a: np.ndarray) -> np.ndarray:
    """1-based ranks of ``a``, ties given their mean rank (scipy.stats.rankdata's 'average')."""
    _, inv, counts = np.unique(a, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2.0)[inv.reshape(-1)]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r; nan where either input is constant."""
    dx, dy = x - x.mean(), y - y.mean()
    den = np.sqrt((dx @ dx) * (dy @ dy))
    return float(np.clip((dx @ dy) / den, -1.0, 1.0)) if den > 0 else float("nan")


def fit_points(rank: np.ndarray, value: np.ndarray, n_cells: int, top_k: int | None, seed: int) -> InverseFit:
    """Least-squares fit of ``value ≈ a + b·log10(1+rank)`` over given points.

    Closed-form least squares and correlations in numpy, equal to scipy.stats.linregress and
    spearmanr (tests/test_inverse.py): importing scipy.stats cost the prepare plan 0.6 s."""
    if rank.size < 3 or np.unique(rank).size < 2:
        raise C2SInputError("Too few expressed genes in the sampled cells to fit the inverse transform.")
    x, y = np.log10(1.0 + np.asarray(rank, np.float64)), np.asarray(value, np.float64)
    dx = x - x.mean()
    slope = float((dx @ (y - y.mean())) / (dx @ dx))
    r = _pearson(x, y)
    r = 0.0 if np.isnan(r) else r  # a constant expression: linregress reports r = 0
    return InverseFit(
        slope=slope,
        intercept=float(y.mean() - slope * x.mean()),
        r2=r**2,
        pearson_r=r,
        spearman_r=_pearson(_average_ranks(x), _average_ranks(y)),
        n_cells=n_cells,
        n_points=int(rank.size),
        top_k=top_k,
        seed=seed,
    )


def fit_inverse(
    adata: ad.AnnData | str | Path,
    top_k: int | None = None,
    n_cells: int = 1000,
    seed: int = 0,
    layer: str | None = None,
    use_raw: bool = False,
    **source_kwargs,
) -> InverseFit:
    """Fit ``expression ≈ a + b·log10(1+rank)`` on ``n_cells`` cells sampled with ``seed``.

    ``top_k=None`` uses every expressed gene of each sampled cell; an int uses only the
    first ``top_k`` ranks (what a top-K sentence can carry). Other keyword arguments go to
    :func:`~c2s.io.sources.open_source` (``gene_key``, ``matrix_kind``, ``backed``).
    """
    from c2s.io.sources import open_source

    source = open_source(adata, layer=layer, use_raw=use_raw, **source_kwargs)
    rank, value, n = sample_rank_expression(source, n_cells=n_cells, seed=seed, top_k=top_k)
    return fit_points(rank, value, n_cells=n, top_k=top_k, seed=seed)


@dataclass
class Reconstruction:
    """Expression rebuilt from sentences.

    Attributes:
        expression: float32 (n_sentences, n_genes), log-normalised units; absent genes are 0.
        n_unknown: int (n_sentences,), words that are not genes of ``gene_names`` (dropped).
        n_repeated: int (n_sentences,), repeated genes (only the first occurrence is kept).
    """

    expression: np.ndarray
    n_unknown: np.ndarray
    n_repeated: np.ndarray


def reconstruct(
    sentences: Sequence[str] | Sequence[Sequence[str]], fit: InverseFit, gene_names: Sequence[str]
) -> Reconstruction:
    """Rebuild expression vectors from sentences (strings or lists of gene symbols).

    Unknown words are dropped and counted; a repeated gene keeps its first occurrence.
    Ranks count positions after that cleaning, so an unknown word does not push the
    genes after it down.
    """
    column = {str(g): j for j, g in enumerate(gene_names)}
    n = len(sentences)
    expression = np.zeros((n, len(column)), dtype=np.float32)
    n_unknown = np.zeros(n, dtype=np.int64)
    n_repeated = np.zeros(n, dtype=np.int64)
    for i, sentence in enumerate(sentences):
        words = sentence.split() if isinstance(sentence, str) else list(sentence)
        seen: dict[int, None] = {}
        for word in words:
            j = column.get(word)
            if j is None:
                n_unknown[i] += 1
            elif j in seen:
                n_repeated[i] += 1
            else:
                seen[j] = None
        cols = np.fromiter(seen.keys(), dtype=np.int64, count=len(seen))
        expression[i, cols] = fit.predict(np.arange(cols.size))
    return Reconstruction(expression=expression, n_unknown=n_unknown, n_repeated=n_repeated)
