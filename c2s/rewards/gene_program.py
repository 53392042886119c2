"""Gene-program agreement, for perturbation response: rebuild the predicted cell's expression
from its sentence with the inverse rank fit, then rank-correlate it with the true perturbed
cell's over a gene program (a configured list, or the top DE genes)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

from c2s.eval.program import program_columns
from c2s.sentences import InverseFit, reconstruct


def program_agreement(pred: np.ndarray, true: np.ndarray, metric: str = "kendall") -> float | None:
    """Kendall τ-b or Pearson r between two (n_program,) vectors. None when ``true`` is constant
    (nothing to agree with); 0.0 when only ``pred`` is constant (e.g. names no program gene)."""
    if np.ptp(true) == 0:
        return None
    if np.ptp(pred) == 0:
        return 0.0
    if metric == "kendall":
        return float(stats.kendalltau(pred, true).statistic)
    return float(stats.pearsonr(pred, true).statistic)


class GeneProgramReward:
    """τ (or r) over ``program`` genes between completion and ``perturbed`` (the true cell's sentence)."""

    def __init__(self, genes: Sequence[str], fit: InverseFit, program: Sequence[str], metric: str = "kendall") -> None:
        self.genes, self.fit, self.metric = list(genes), fit, metric
        self.program = list(program)
        self.columns = program_columns(self.program, self.genes)

    def __call__(self, prompts: Sequence[str], completions: Sequence[str],
                 perturbed: Sequence[str | None] | None = None, **_) -> list[float | None]:
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
