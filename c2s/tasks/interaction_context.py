"""Interaction context for spatial prompts (``tasks.options.interaction_context``): the ligand–receptor pairs
expressed across the centre cell and each other cell a prompt shows, a ligand in one cell's sentence and its
receptor in the other's (either way round), as one line before the prompt.

Vectorised over a block of prompts: every (centre gene, other gene) combination of the shown sentences is looked
up in the sorted pair keys at once, so the cost is linear in prompts (m x cells x k^2 lookups). The line lists at
most :data:`MAX_PAIRS` pairs, fewer where the prompt's token budget (``max_tokens``) has no room for them.
"""

from __future__ import annotations

import numpy as np

from c2s.corpus.corpus import Corpus
from c2s.tasks.columns import encode

MAX_PAIRS = 8
BLOCK = 512  # prompts looked up at once: ~BLOCK x cells x k^2 x 8 bytes per temporary (~8 MB at 5 cells, k=20)
TOKENS_PER_PAIR = 4  # "Cell j:", two genes, a separator: the budget's estimate
PREFIX = "Ligand-receptor pairs between the centre cell and the others: {interactions}\n"


def pair_budget(max_tokens: int, n_cells: int, k: int) -> int:
    """Pairs that fit next to ``n_cells`` sentences of ``k`` genes (the estimate of c2s.tasks.base)."""
    return max(0, min(MAX_PAIRS, (max_tokens - 64 - n_cells * (k + 4)) // TOKENS_PER_PAIR))


def expressed_pairs(corpus: Corpus, centre: np.ndarray, others: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """(example, other cell's position j, ligand, receptor) of every pair across ``centre`` (m,) and ``others``
    (m, c), each cell shown as its first ``k`` genes; sorted by example, j, ligand, receptor."""
    inter = corpus.interactions
    g = np.int64(len(corpus.sentences.gene_names))
    keys = np.sort(inter.pairs[:, 0].astype(np.int64) * g + inter.pairs[:, 1])
    m, c = others.shape
    cg = corpus.sentences.take(centre, k).astype(np.int64)  # (m, k), -1 past a sentence's end
    og = corpus.sentences.take(others.reshape(-1), k).astype(np.int64).reshape(m, c, -1)
    a, b = cg[:, None, :, None], og[:, :, None, :]  # (m, 1, k, 1), (m, c, 1, k)
    valid = (a >= 0) & (b >= 0)
    hits = []
    for lig, rec in ((a, b), (b, a)):  # the centre sends, or receives
        key = np.where(valid, lig * g + rec, -1)
        at = np.searchsorted(keys, key).clip(max=max(keys.size - 1, 0))
        found = valid & (keys[at] == key) if keys.size else np.zeros_like(valid)
        e, j, x, y = np.nonzero(found)
        lig_ids = np.broadcast_to(lig, found.shape)[e, j, x, y]
        rec_ids = np.broadcast_to(rec, found.shape)[e, j, x, y]
        hits.append(np.c_[e, j, lig_ids, rec_ids])
    rows = np.unique(np.concatenate(hits), axis=0)  # sorted; a pair both ways round counts once per direction
    return rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]


def context_text(corpus: Corpus, centre: np.ndarray, others: np.ndarray, k: int, max_pairs: int):
    """Text field (codes, values) of the context line of each prompt: ``Cell j: LIG>REC, …; …`` (the others
    numbered as the prompt numbers them), at most ``max_pairs`` pairs in order, or ``none``."""
    if max_pairs < 1:
        return encode(np.full(centre.size, "not listed (no room within max_tokens)", dtype=object))
    names = np.asarray(corpus.sentences.gene_names, dtype=object)
    found = [
        expressed_pairs(corpus, centre[b : b + BLOCK], others[b : b + BLOCK], k) for b in range(0, centre.size, BLOCK)
    ]
    e = np.concatenate([f[0] + b for f, b in zip(found, range(0, centre.size, BLOCK))])
    j, lig, rec = (np.concatenate([f[q] for f in found]) for q in (1, 2, 3))
    first = np.searchsorted(e, np.arange(centre.size))
    last = np.searchsorted(e, np.arange(centre.size), side="right")
    out = np.full(centre.size, "none", dtype=object)
    for i in np.flatnonzero(last > first):
        sl = slice(first[i], min(last[i], first[i] + max_pairs))
        parts: dict[int, list[str]] = {}
        for jj, x, y in zip(j[sl].tolist(), lig[sl].tolist(), rec[sl].tolist()):
            parts.setdefault(jj, []).append(f"{names[x]}>{names[y]}")
        out[i] = "; ".join(f"Cell {jj + 1}: {', '.join(p)}" for jj, p in parts.items())
    return encode(out)
