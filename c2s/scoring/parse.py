"""Turn generated text into labels and gene lists."""

from __future__ import annotations

import re

from c2s.io.labels import normalize_label  # noqa: F401  (labels are made safe for it at prepare)


def parse_genes(text: str, vocabulary: set[str]) -> tuple[list[str], int, int]:
    """(genes, non-genes dropped, repeats dropped): words of ``text`` in order; a word that is not
    a gene of ``vocabulary`` is dropped and counted; a repeated gene keeps its first occurrence.
    A period closing a sentence (``… CD3D.``, the c2s_scale format) is not part of the gene.
    Multi-cell text ("Cell 1: …") is read as one list (labels are not genes)."""
    genes, seen, n_bad, n_rep = [], set(), 0, 0
    for word in text.split():
        if word not in vocabulary and word.endswith(".") and word[:-1] in vocabulary:
            word = word[:-1]
        if word not in vocabulary:
            if not re.fullmatch(r"Cell|\d+:", word):
                n_bad += 1
            continue
        if word in seen:
            n_rep += 1
            continue
        seen.add(word)
        genes.append(word)
    return genes, n_bad, n_rep
