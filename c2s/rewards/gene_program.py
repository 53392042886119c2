"""Gene-program agreement, for perturbation response: rebuild the predicted cell's expression
from its sentence with the inverse rank fit, then rank-correlate it with the true perturbed
cell's over a gene program (a configured list, or the top DE genes)."""

from __future__ import annotations

from typing import Sequence

from c2s.scoring.program import program_agreement, program_columns
from c2s.sentences import InverseFit, reconstruct


class GeneProgramReward:
    """τ (or r) over ``program`` genes between completion and ``perturbed`` (the true cell's sentence)."""

    def __init__(self, genes: Sequence[str], fit: InverseFit, program: Sequence[str], metric: str = "kendall") -> None:
        self.genes, self.fit, self.metric = list(genes), fit, metric
        self.program = list(program)
        self.columns = program_columns(self.program, self.genes)

    def describe(self) -> str:
        return f"gene program ({len(self.program)} genes): {' '.join(self.program)}"

    def __call__(
        self, prompts: Sequence[str], completions: Sequence[str], perturbed: Sequence[str | None] | None = None, **_
    ) -> list[float | None]:
        perturbed = perturbed or [None] * len(completions)
        idx = [i for i, p in enumerate(perturbed) if p is not None]
        out: list[float | None] = [None] * len(completions)
        if not idx:
            return out
        pred = reconstruct([completions[i] for i in idx], self.fit, self.genes).expression[:, self.columns]
        true = reconstruct([perturbed[i] for i in idx], self.fit, self.genes).expression[:, self.columns]
        for k, i in enumerate(idx):
            out[i] = program_agreement(pred[k], true[k], self.metric)
        return out
