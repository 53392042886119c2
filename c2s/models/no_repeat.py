"""A logits processor that forbids a token a second time within the completion, for one-token-per-gene
cell sentences (a gene is named once).

HF's ``no_repeat_ngram_size=1`` counts the prompt as well, so it banned every gene of the prompt: a
perturbation model could never name a gene of the control cell it was shown, and a cell-generation prompt
that lists genes could not have them in its answer.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor


class NoRepeatInCompletion(LogitsProcessor):
    """Sets to -inf the score of every token already generated after the first ``prompt_width`` positions
    (the left-padded prompt of the batch). Tokens of the prompt stay allowed."""

    def __init__(self, prompt_width: int) -> None:
        self.prompt_width = int(prompt_width)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        done = input_ids[:, self.prompt_width :]  # (B, generated so far)
        if done.shape[1] == 0:
            return scores
        return scores.scatter(1, done, float("-inf"))
