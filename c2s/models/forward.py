"""Forward helpers shared by training, sampling and evaluation: Gemma-2's logit soft-capping and
left-padded ``<s> prompt`` batches for generation."""

from __future__ import annotations

import torch


def logit_cap(model: torch.nn.Module) -> float | None:
    """The model's final logit soft-cap (Gemma-2's ``final_logit_softcapping``), or None."""
    return getattr(model.config, "final_logit_softcapping", None)


def soft_cap(logits: torch.Tensor, cap: float | None) -> torch.Tensor:
    """``cap · tanh(logits / cap)``, as Gemma-2's forward applies it; ``logits`` unchanged when ``cap`` is None."""
    return torch.tanh(logits / cap) * cap if cap else logits


def left_pad(prompts: list[list[int]], pad: int, bos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask), both (B, P) int64, for ``<s> prompt`` rows left-padded to the longest; mask is 1 on
    real tokens."""
    rows = [[bos] + list(p) for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask
