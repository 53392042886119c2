"""Rewards for GRPO: each is a plain callable

    reward(prompts: list[str], completions: list[str], **sample_fields) -> list[float | None]

where None means "does not apply to this sample". ``combine`` sums them with weights.
Work in progress: label match and gene overlap so far (BERTScore and gene-program rewards next).
"""

from c2s.rewards.basic import REWARDS, combine, gene_overlap, label_match

__all__ = ["REWARDS", "combine", "gene_overlap", "label_match"]
