"""Reward names -> callables, the fields each prompt row gives them, and weighted sums.

Fields come from the row's target, by its task's metric (``Metric.reward_fields``, c2s.scoring.metric):
``label`` (accuracy tasks), ``genes`` (gene lists: overlap tasks and perturbation response), ``reference``
(BERTScore tasks), ``perturbed`` (perturbation response); every row also gives ``task``. A reward returns None
where its field is None ("does not apply").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from c2s.config.stage import GRPOConfig
from c2s.errors import C2SInputError
from c2s.rewards.basic import gene_overlap, label_match
from c2s.scoring.metric import REWARD_FIELDS

Reward = Callable[..., list]


def sample_fields(rows: Sequence[Mapping[str, Any]]) -> dict[str, list]:
    """Reward keyword fields for shard rows (dicts with task and target)."""
    from c2s.tasks import REGISTRY

    fields: dict[str, list] = {"task": [r["task"] for r in rows]}
    for name in REWARD_FIELDS:
        fields[name] = [None] * len(rows)
    for i, r in enumerate(rows):
        for field in REGISTRY[r["task"]].metric.reward_fields:
            fields[field][i] = r["target"]
    return fields


def check_names(names) -> None:
    """Raise naming the unknown ones unless every name is a registered reward."""
    unknown = sorted(set(names) - set(REWARD_NAMES))
    if unknown or not names:
        raise C2SInputError(
            f"grpo.rewards names unknown reward(s) {unknown or '(none given)'}; known: {list(REWARD_NAMES)}."
        )


def _bertscore(shards_dir: Path | None, o: GRPOConfig) -> Reward:
    from c2s.rewards.text import BERTScoreReward

    return BERTScoreReward(o.bertscore_model)


def _gene_program(shards_dir: Path | None, o: GRPOConfig) -> Reward:
    """Needs the shards: genes.json, inverse_fit.json, and the train rows for a DE program."""
    if shards_dir is None:
        raise C2SInputError("The gene_program reward needs the prepared shards (genes and inverse fit).")
    from c2s.data.shards import ShardSet
    from c2s.rewards.gene_program import GeneProgramReward
    from c2s.scoring.program import top_de_genes
    from c2s.sentences import InverseFit

    shards_dir = Path(shards_dir)
    genes = json.loads((shards_dir / "genes.json").read_text())
    fit = InverseFit.load(shards_dir / "inverse_fit.json")
    program = o.program
    if not program:
        rows = ShardSet(shards_dir, verify=False).rows("train", ["task", "prompt", "target"], {"perturbation_response"})
        program = top_de_genes(rows, fit, genes, o.program_top_n)
    return GeneProgramReward(genes, fit, program, o.program_metric)


# name -> builder(shards_dir, GRPO settings: bertscore_model, program, ...)
BUILDERS: dict[str, Callable[[Path | None, GRPOConfig], Reward]] = {
    "label_match": lambda shards_dir, o: label_match,
    "gene_overlap": lambda shards_dir, o: gene_overlap,
    "bertscore": _bertscore,
    "gene_program": _gene_program,
}
REWARD_NAMES = tuple(BUILDERS)


def build_rewards(
    weights: Mapping[str, float], shards_dir: str | Path | None = None, options: GRPOConfig | None = None
) -> dict[str, Reward]:
    """The rewards named in ``weights``, built once each (``options``: the stage's GRPO settings)."""
    check_names(weights)
    where, o = None if shards_dir is None else Path(shards_dir), options or GRPOConfig()
    return {name: BUILDERS[name](where, o) for name in weights}


def weighted_sum(parts: Mapping[str, Sequence[float | None]], weights: Mapping[str, float]) -> list[float | None]:
    """Per sample, the weighted sum of the rewards that apply (None if none does)."""
    n = len(next(iter(parts.values())))
    out: list[float | None] = []
    for i in range(n):
        vals = [weights[k] * v[i] for k, v in parts.items() if v[i] is not None]
        out.append(sum(vals) if vals else None)
    return out
