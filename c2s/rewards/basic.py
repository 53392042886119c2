"""Label-match and gene-overlap rewards."""

from __future__ import annotations

from typing import Iterable, Sequence

from c2s.scoring.overlap import text_overlap
from c2s.scoring.parse import normalize_label


def label_match(
    prompts: Sequence[str], completions: Sequence[str], label: Sequence[str | None] | None = None, **_
) -> list[float | None]:
    """1.0 when the normalised completion equals the normalised label (cell type, tissue), else 0;
    None where a sample has no label."""
    label = label or [None] * len(completions)
    return [
        None if lab is None else float(normalize_label(c) == normalize_label(lab)) for c, lab in zip(completions, label)
    ]


class GeneOverlap:
    """Share (0..1) of the reference genes named in the completion, parsed as evaluation parses them
    (``c2s.scoring.overlap.text_overlap``: vocabulary filter, a closing period); None without a reference.
    ``vocabulary``: the shards' genes (None: the reference's own words)."""

    def __init__(self, vocabulary: Iterable[str] | None = None) -> None:
        self.vocabulary = None if vocabulary is None else frozenset(vocabulary)

    def __call__(
        self, prompts: Sequence[str], completions: Sequence[str], genes: Sequence[str | None] | None = None, **_
    ) -> list[float | None]:
        genes = genes or [None] * len(completions)
        return [None if ref is None else text_overlap(c, ref, self.vocabulary) for c, ref in zip(completions, genes)]


gene_overlap = GeneOverlap()
