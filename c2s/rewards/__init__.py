"""Rewards for GRPO: each is a plain callable

    reward(prompts: list[str], completions: list[str], **sample_fields) -> list[float | None]

where None means "does not apply to this sample". ``weighted_sum`` sums them with weights.
Shipped: label_match, gene_overlap, bertscore, gene_program (see c2s.rewards.registry).
"""

from c2s.rewards.basic import gene_overlap, label_match
from c2s.rewards.registry import REWARD_NAMES, build_rewards, check_names, sample_fields, weighted_sum

__all__ = [
    "REWARD_NAMES",
    "build_rewards",
    "check_names",
    "gene_overlap",
    "label_match",
    "sample_fields",
    "weighted_sum",
]
