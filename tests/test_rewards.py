"""Rewards are plain callables; None means "does not apply"; combinations are weighted sums."""

import pytest

from c2s.errors import C2SInputError
from c2s.rewards import combine, gene_overlap, label_match


def test_label_match_normalises_and_skips_missing():
    out = label_match(["p"] * 3, ["CD14+ Monocyte.", "B cell", "x"], label=["cd14+ monocyte", "T cell", None])
    assert out == [1.0, 0.0, None]


def test_gene_overlap_by_hand():
    assert gene_overlap(["p", "p"], ["CD3D CD3E X", "A"], genes=["CD3D CD3E CD8A LCK", None]) == [0.5, None]


def test_combine_weights_and_none():
    total = combine({"label_match": 2.0, "gene_overlap": 1.0})
    out = total(["p"] * 3, ["B cell", "CD3D", "foo"], label=["B cell", None, None], genes=[None, "CD3D CD3E", None])
    assert out == [2.0, 0.5, None]
    with pytest.raises(C2SInputError, match="Unknown reward.*Known rewards"):
        combine({"bleu": 1.0})
