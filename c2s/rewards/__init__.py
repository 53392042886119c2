"""Rewards for GRPO: each is a plain callable

    reward(prompts: list[str], completions: list[str], **sample_fields) -> list[float | None]

where None means "does not apply to this sample", built from its config node (c2s.rewards.registry).
``weighted_sum`` sums them with weights. Shipped: label_match, gene_overlap, bertscore, gene_program
(c2s.rewards.builtin).
"""

from c2s.rewards import builtin  # noqa: F401  (registers the shipped rewards)
from c2s.rewards.basic import gene_overlap, label_match
from c2s.rewards.registry import (
    REWARDS,
    RewardContext,
    build_rewards,
    check_rewards,
    register_reward,
    reward_weights,
    sample_fields,
    weighted_sum,
)

__all__ = [
    "REWARDS",
    "RewardContext",
    "build_rewards",
    "check_rewards",
    "gene_overlap",
    "label_match",
    "register_reward",
    "reward_weights",
    "sample_fields",
    "weighted_sum",
]
