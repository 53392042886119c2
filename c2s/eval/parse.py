"""Turn generated text into labels and gene lists."""

from __future__ import annotations

import re


def normalize_label(text: str) -> str:
    """Case-folded, whitespace-collapsed, first line, trailing punctuation removed."""
    first = text.strip().split("\n")[0]
    return re.sub(r"\s+", " ", first).strip().strip(".,;:").casefold()


def parse_genes(text: str, vocabulary: set[str]) -> tuple[list[str], int, int]:
    """(genes, non-genes dropped, repeats dropped): words of ``text`` in order; a word that is not
    a gene of ``vocabulary`` is dropped and counted; a repeated gene keeps its first occurrence.
    Multi-cell text ("Cell 1: …") is read as one list (labels are not genes)."""
    genes, seen, n_bad, n_rep = [], set(), 0, 0
    for word in text.split():
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
