"""Gene overlap: the share of a reference cell's genes that a generated list names (the preprint's overlap %).
Evaluation and the ``gene_overlap`` reward both score through here, after the same parser (``parse_genes``)."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from c2s.scoring.parse import parse_genes


def overlap_pct(pred: list[list[str]], true: list[list[str]]) -> np.ndarray:
    """Per example, 100 × |set(pred) ∩ set(true)| / |set(true)|: the share of the reference genes
    that the generated list recovers (the preprint's gene overlap %)."""
    return np.array([100.0 * len(set(p) & set(t)) / max(1, len(set(t))) for p, t in zip(pred, true)])


def text_overlap(completion: str, reference: str, vocabulary: Iterable[str] | None = None) -> float:
    """Share (0..1) of ``reference``'s genes named in ``completion``, both parsed by ``parse_genes`` with
    ``vocabulary`` (the shards' genes; None: the reference's own words, which names the same overlap)."""
    vocab = set(vocabulary) if vocabulary is not None else {w[:-1] if w.endswith(".") else w for w in reference.split()}
    pred, true = parse_genes(completion, vocab)[0], parse_genes(reference, vocab)[0]
    return float(overlap_pct([pred], [true])[0]) / 100.0
