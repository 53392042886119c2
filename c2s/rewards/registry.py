"""Rewards as configured components: each has a parameter schema and a builder, registered in ``REWARDS``.

A stage names its rewards under ``grpo.rewards``, each a weight or a node with a ``weight`` and the reward's own
parameters, e.g. ``{gene_program: {weight: 1.0, top_n: 20}, gene_overlap: 0.5}``. Each is built once from its
parameters with a ``RewardContext`` (the prompt shards: genes, inverse fit, train rows). Fields come from the
row's target, by its task's metric (``Metric.reward_fields``, c2s.scoring.metric): ``label``, ``genes``,
``reference``, ``perturbed``; every row also gives ``task``. A reward returns None where it does not apply.
A new reward is a callable, a parameter dataclass and one ``register_reward`` call (from any module).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from omegaconf import OmegaConf

from c2s.errors import C2SInputError
from c2s.scoring.metric import REWARD_FIELDS

Reward = Callable[..., list]


@dataclass
class RewardContext:
    """What a reward may be built from: the prepared shards (None outside a training stage)."""

    shards_dir: Path | None = None

    def need_shards(self, what: str) -> Path:
        if self.shards_dir is None:
            raise C2SInputError(f"The {what} reward needs the prepared shards (genes and inverse fit).")
        return Path(self.shards_dir)

    @cached_property
    def genes(self) -> list[str] | None:
        """The shards' gene vocabulary, or None without shards."""
        return None if self.shards_dir is None else json.loads((Path(self.shards_dir) / "genes.json").read_text())


@dataclass(frozen=True)
class RewardSpec:
    params: type  # a dataclass of the reward's parameters ("weight" is not one of them)
    build: Callable[[Any, RewardContext], Reward]


@dataclass
class NoParams:
    pass


REWARDS: dict[str, RewardSpec] = {}


def register_reward(name: str, params: type, build: Callable[[Any, RewardContext], Reward]) -> None:
    """Add reward ``name``: ``params`` (a dataclass) types its config node; ``build(params, context)`` makes it."""
    REWARDS[name] = RewardSpec(params, build)


def _nodes(rewards: Mapping[str, Any]) -> dict[str, tuple[float, dict[str, Any]]]:
    """name -> (weight, parameters) from ``grpo.rewards`` (a weight, or a node with ``weight`` and parameters)."""
    if not rewards:
        raise C2SInputError("grpo.rewards is empty: give at least one reward, e.g. {label_match: 1.0}.")
    unknown = sorted(set(rewards) - set(REWARDS))
    if unknown:
        raise C2SInputError(f"grpo.rewards names unknown reward(s) {unknown}; known: {sorted(REWARDS)}.")
    out = {}
    for name, node in rewards.items():
        node = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
        node = {"weight": node} if isinstance(node, (int, float)) and not isinstance(node, bool) else node
        if not isinstance(node, Mapping) or not isinstance(node.get("weight", 1.0), (int, float)):
            raise C2SInputError(f"grpo.rewards.{name}: give a weight, or {{weight: <number>, <parameters>...}}.")
        params = {k: v for k, v in node.items() if k != "weight"}
        out[name] = (float(node.get("weight", 1.0)), params)
    return out


def _params(name: str, values: Mapping[str, Any]) -> Any:
    schema = REWARDS[name].params
    allowed = [f.name for f in dataclasses.fields(schema)]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise C2SInputError(
            f"grpo.rewards.{name} has unknown parameter(s) {unknown}; its parameters: {['weight', *allowed]}."
        )
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), dict(values)))
    except Exception as exc:  # a wrong type, or the schema's own __post_init__
        raise C2SInputError(f"grpo.rewards.{name}: {exc}".splitlines()[0]) from None


def check_rewards(rewards: Mapping[str, Any]) -> None:
    """Raise unless every reward is registered and its parameters fit its schema (before any work)."""
    for name, (_, params) in _nodes(rewards).items():
        _params(name, params)


def reward_weights(rewards: Mapping[str, Any]) -> dict[str, float]:
    return {name: w for name, (w, _) in _nodes(rewards).items()}


def build_rewards(rewards: Mapping[str, Any], shards_dir: str | Path | None = None) -> dict[str, Reward]:
    """The rewards configured in ``rewards`` (``grpo.rewards``), built once each with the shards as context."""
    ctx = RewardContext(None if shards_dir is None else Path(shards_dir))
    return {name: REWARDS[name].build(_params(name, params), ctx) for name, (_, params) in _nodes(rewards).items()}


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


def weighted_sum(parts: Mapping[str, Sequence[float | None]], weights: Mapping[str, float]) -> list[float | None]:
    """Per sample, the weighted sum of the rewards that apply (None if none does)."""
    n = len(next(iter(parts.values())))
    out: list[float | None] = []
    for i in range(n):
        vals = [weights[k] * v[i] for k, v in parts.items() if v[i] is not None]
        out.append(sum(vals) if vals else None)
    return out
