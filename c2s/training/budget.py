"""Turn a stage's budget (steps, tokens or epochs) into Trainer limits and a schedule length."""

from __future__ import annotations

import math
from dataclasses import dataclass

from c2s.config.stage import StageConfig
from c2s.data.datamodule import C2SDataModule


@dataclass(frozen=True)
class Budget:
    max_steps: int  # Trainer max_steps (-1: use max_epochs)
    max_epochs: int  # Trainer max_epochs (-1: use max_steps)
    schedule_steps: int  # optimizer steps the LR schedule spans
    tokens_per_step: float  # mean non-pad tokens per optimizer step, all ranks
    examples_per_step: float = 0.0  # mean prompts per optimizer step, all ranks (packing puts several in a row)


def resolve_budget(stage: StageConfig, dm: C2SDataModule, world_size: int) -> Budget:
    """max_steps wins, then max_tokens (non-pad tokens over all ranks), then max_examples (prompts over all
    ranks), then max_epochs.

    Steps per epoch come from epoch 0's plan; later epochs pack slightly differently, so an
    epoch budget's schedule length is approximate (the LR just holds its floor a little).
    """
    acc = stage.accumulate_grad_batches
    stream = dm.stream("train", rank=0, world_size=world_size)
    batches = stream.plan(0)
    tokens = float(stream.index.lengths[batches.examples].sum())  # every example once (padding batches add none)
    steps_per_epoch = max(1, len(batches) // world_size // acc)
    tokens_per_step = tokens / max(1, len(batches) // world_size) * acc
    per_step = (tokens_per_step, len(batches.examples) / max(1, len(batches) // world_size) * acc)
    if stage.max_steps and stage.max_steps > 0:
        return Budget(stage.max_steps, -1, stage.max_steps, *per_step)
    if stage.max_tokens:
        steps = max(1, math.ceil(stage.max_tokens / tokens_per_step))
        return Budget(steps, -1, steps, *per_step)
    if stage.max_examples:
        steps = max(1, math.ceil(stage.max_examples / per_step[1]))
        return Budget(steps, -1, steps, *per_step)
    return Budget(-1, stage.max_epochs, steps_per_epoch * stage.max_epochs, *per_step)


def grpo_budget(stage: StageConfig, dm, world_size: int) -> Budget:
    """GRPO: one batch of prompts gives ``grpo.inner_iterations`` optimizer steps. max_steps
    wins, else max_epochs over the prompts (token and example budgets are refused by StageConfig)."""
    mu = stage.grpo.inner_iterations
    if stage.max_steps and stage.max_steps > 0:
        return Budget(stage.max_steps, -1, stage.max_steps, 0.0)
    steps = dm.stream("train", 0, world_size).batches_per_rank(0) * mu * stage.max_epochs
    return Budget(steps, -1, steps, 0.0)
