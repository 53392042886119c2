"""The GRPO objective, written from its definition (shared/DESIGN.md §4).

For a prompt sampled G times with rewards r_1..r_G:
  advantage  A_i = (r_i − mean(r)) / (std(r) + 1e-4)      (std unbiased; or no division)
Per completion token t of completion i, with ρ = exp(logp − logp_old):
  loss_it = −min(ρ·A_i, clip(ρ, 1 − ε_low, 1 + ε_high)·A_i) + β·KL_it
  KL_it   = exp(ref − logp) − (ref − logp) − 1            (the k3 estimator, ≥ 0)
Aggregation over the completion mask:
  "grpo": mean over each completion's tokens, then mean over completions;
  "dapo": sum over all tokens / number of active tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from c2s.config.stage import AGGREGATIONS


def group_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True) -> torch.Tensor:
    """(B·G,) rewards, consecutive groups of ``group_size`` -> (B·G,) advantages."""
    if group_size < 2:
        raise ValueError("GRPO needs group_size >= 2: advantages are relative within a group.")
    r = rewards.view(-1, group_size)
    a = r - r.mean(dim=1, keepdim=True)
    if scale:
        a = a / (r.std(dim=1, keepdim=True) + 1e-4)
    return a.reshape(-1)


@dataclass
class GRPOLoss:
    loss: torch.Tensor
    kl: torch.Tensor  # mean k3 KL over active tokens (0 when beta = 0 and no ref given)
    clip_fraction: torch.Tensor  # share of active tokens where the clipped term is the minimum and differs


def grpo_loss(
    logp: torch.Tensor,
    logp_old: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    beta: float = 0.0,
    logp_ref: torch.Tensor | None = None,
    aggregation: str = "grpo",
) -> GRPOLoss:
    """Loss for token log-probs (N, T) of N completions; ``mask`` (N, T) marks completion tokens."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    mask = mask.to(logp.dtype)
    ratio = torch.exp(logp - logp_old)
    adv = advantages[:, None]
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high) * adv
    per_token = -torch.minimum(unclipped, clipped)
    kl = torch.zeros_like(logp)
    if beta != 0.0:
        if logp_ref is None:
            raise ValueError("beta != 0 needs reference log-probs (logp_ref).")
        delta = logp_ref - logp
        kl = torch.exp(delta) - delta - 1
        per_token = per_token + beta * kl
    if aggregation == "grpo":
        per_seq = (per_token * mask).sum(1) / mask.sum(1).clamp(min=1)
        loss = per_seq.mean()
    else:
        loss = (per_token * mask).sum() / mask.sum().clamp(min=1)
    active = mask.sum().clamp(min=1)
    clip_frac = (((clipped < unclipped) & (mask > 0)).to(logp.dtype)).sum() / active
    return GRPOLoss(loss, (kl * mask).sum() / active, clip_frac)
