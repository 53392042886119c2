"""Label-match and gene-overlap rewards (stateless)."""

from __future__ import annotations

from typing import Sequence

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


def gene_overlap(
    prompts: Sequence[str], completions: Sequence[str], genes: Sequence[str | None] | None = None, **_
) -> list[float | None]:
    """Share (0..1) of the reference genes (space-separated) named in the completion; None without a reference."""
    genes = genes or [None] * len(completions)
    out = []
    for c, ref in zip(completions, genes):
        if ref is None:
            out.append(None)
            continue
        want = set(ref.split())
        out.append(len(want & set(c.split())) / max(1, len(want)))
    return out
