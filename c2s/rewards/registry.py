"""Reward names -> callables, the fields each prompt row gives them, and weighted sums.

Fields by the row's task metric: ``label`` (accuracy tasks), ``genes`` (gene lists: overlap
tasks and perturbation response), ``reference`` (BERTScore tasks), ``perturbed`` (perturbation
response); every row also gives ``task``. A reward returns None where its field is None ("does not apply").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from c2s.errors import C2SInputError
from c2s.rewards.basic import gene_overlap, label_match

Reward = Callable[..., list]
REWARD_NAMES = ("label_match", "gene_overlap", "bertscore", "gene_program")
FIELDS_BY_METRIC = {"accuracy": ("label",), "overlap": ("genes",), "bertscore": ("reference",),
                    "kendall_tau": ("perturbed", "genes")}


def sample_fields(rows: Sequence[Mapping[str, Any]]) -> dict[str, list]:
    """Reward keyword fields for shard rows (dicts with task and target)."""
    from c2s.tasks import REGISTRY

    fields: dict[str, list] = {"task": [r["task"] for r in rows]}
    for name in ("label", "genes", "reference", "perturbed"):
        fields[name] = [None] * len(rows)
    for i, r in enumerate(rows):
        for field in FIELDS_BY_METRIC.get(REGISTRY[r["task"]].metric, ()):
            fields[field][i] = r["target"]
    return fields


def _check_names(names) -> None:
    unknown = sorted(set(names) - set(REWARD_NAMES))
    if unknown:
        raise C2SInputError(f"Unknown reward(s) {unknown}. Known rewards: {list(REWARD_NAMES)}.")


def build_reward(name: str, shards_dir: str | Path | None = None, options: Mapping[str, Any] | None = None) -> Reward:
    """The reward ``name``. bertscore reads ``options['bertscore_model']``; gene_program needs the
    shards (genes.json, inverse_fit.json, train rows for a DE program) and options program,
    program_top_n, program_metric (see GRPOConfig)."""
    _check_names([name])
    o = dict(options or {})
    if name == "label_match":
        return label_match
    if name == "gene_overlap":
        return gene_overlap
    if name == "bertscore":
        from c2s.rewards.text import BERTScoreReward

        return BERTScoreReward(o.get("bertscore_model"))
    if shards_dir is None:
        raise C2SInputError("The gene_program reward needs the prepared shards (genes and inverse fit).")
    from c2s.data.shards import ShardSet
    from c2s.eval.program import top_de_genes
    from c2s.rewards.gene_program import GeneProgramReward
    from c2s.sentences import InverseFit

    shards_dir = Path(shards_dir)
    genes = json.loads((shards_dir / "genes.json").read_text())
    fit = InverseFit.load(shards_dir / "inverse_fit.json")
    program = o.get("program")
    if not program:
        rows = ShardSet(shards_dir, verify=False).rows("train", ["task", "prompt", "target"], {"perturbation_response"})
        program = top_de_genes(rows, fit, genes, int(o.get("program_top_n", 20)))
    return GeneProgramReward(genes, fit, program, o.get("program_metric", "kendall"))


def build_rewards(weights: Mapping[str, float], shards_dir: str | Path | None = None,
                  options: Mapping[str, Any] | None = None) -> dict[str, Reward]:
    _check_names(weights)
    return {name: build_reward(name, shards_dir, options) for name in weights}


def weighted_sum(parts: Mapping[str, Sequence[float | None]], weights: Mapping[str, float]) -> list[float | None]:
    """Per sample, the weighted sum of the rewards that apply (None if none does)."""
    n = len(next(iter(parts.values())))
    out: list[float | None] = []
    for i in range(n):
        vals = [weights[k] * v[i] for k, v in parts.items() if v[i] is not None]
        out.append(sum(vals) if vals else None)
    return out


def combine(weights: Mapping[str, float], rewards: Mapping[str, Reward] | None = None) -> Reward:
    """One reward: the weighted sum of the named rewards (built without shards unless given)."""
    rewards = rewards or build_rewards(weights)

    def total(prompts, completions, **fields):
        return weighted_sum({k: rewards[k](prompts, completions, **fields) for k in weights}, weights)

    return total
