"""Label-match and gene-overlap rewards, and their weighted combination."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from c2s.errors import C2SInputError
from c2s.eval.parse import normalize_label

Reward = Callable[..., list]


def label_match(prompts: Sequence[str], completions: Sequence[str], label: Sequence[str | None] | None = None,
                **_) -> list[float | None]:
    """1.0 when the normalised completion equals the normalised label (cell type, tissue), else 0;
    None where a sample has no label."""
    label = label or [None] * len(completions)
    return [None if lab is None else float(normalize_label(c) == normalize_label(lab)) for c, lab in zip(completions, label)]


def gene_overlap(prompts: Sequence[str], completions: Sequence[str], genes: Sequence[str | None] | None = None,
                 **_) -> list[float | None]:
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


REWARDS: dict[str, Reward] = {"label_match": label_match, "gene_overlap": gene_overlap}


def combine(weights: Mapping[str, float]) -> Reward:
    """A reward that is the weighted sum of the named rewards, ignoring those that return None
    for a sample (None only if none applies). Unknown names fail fast, listing the known ones."""
    unknown = sorted(set(weights) - set(REWARDS))
    if unknown:
        raise C2SInputError(f"Unknown reward(s) {unknown}. Known rewards: {sorted(REWARDS)}.")

    def total(prompts, completions, **fields):
        parts = [(w, REWARDS[name](prompts, completions, **fields)) for name, w in weights.items()]
        out = []
        for i in range(len(completions)):
            vals = [w * scores[i] for w, scores in parts if scores[i] is not None]
            out.append(sum(vals) if vals else None)
        return out

    return total
