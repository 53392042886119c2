"""Schemas of one training stage (configs/stage/): budget, optimiser, schedule, task mix, LoRA, GRPO."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from c2s.config.checks import one_of, positive
from c2s.config.model import LoraConfig

# the optimizer classes a stage may name (``_target_`` is imported by Hydra: nothing else is allowed there)
OPTIMIZERS = ("torch.optim.AdamW", "torch.optim.Adam", "torch.optim.NAdam", "torch.optim.RAdam")  # all take betas, eps


@dataclass
class OptimizerConfig:
    _target_: str = "torch.optim.AdamW"
    _partial_: bool = True
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8

    def __post_init__(self) -> None:
        one_of(self._target_, OPTIMIZERS, "stages.<stage>.optimizer._target_")


@dataclass
class SchedulerConfig:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` × lr at the last step."""

    warmup_steps: int = 10
    min_lr_ratio: float = 0.1


@dataclass
class TaskMixConfig:
    default_weight: float = 1.0
    weights: dict[str, float] = field(default_factory=dict)


AGGREGATIONS = ("grpo", "dapo")  # c2s.rl.grpo_loss
OVERLONG = ("drop", "refuse")  # what the DataModule does with an example longer than max_seq_len


@dataclass
class GRPOConfig:
    """stage.grpo (mode=grpo): sampling, rewards and the clipped-surrogate objective (c2s.rl)."""

    group_size: int = 8  # G completions per prompt (>= 2: advantages are relative within a group)
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 32
    no_repeat_tokens: bool = False  # gene lists: a gene (one token) at most once per completion
    cache: str = (
        "auto"  # KV cache for sampling: auto (static on one GPU: 4.6x, benchmarks/README.md) | static | dynamic
    )
    # name -> weight, or {weight: w, <the reward's parameters>} (c2s.rewards.registry checks them against REWARDS)
    rewards: dict[str, Any] = field(default_factory=lambda: {"label_match": 1.0})
    scale_rewards: bool = True  # divide advantages by the group's reward std
    eps_low: float = 0.2
    eps_high: float = 0.2
    beta: float = 0.0  # k3 KL weight against the reference (0: no reference pass)
    aggregation: str = "grpo"  # grpo (per-sequence mean) | dapo (token sum / active tokens)
    inner_iterations: int = 1  # mu: optimizer steps per generated batch, on stored old log-probs
    mask_truncated: bool = False  # drop completions that hit max_new_tokens without EOS from the loss
    eval_prompts: int = 64  # held-out (val) prompts scored greedily at each validation

    def __post_init__(self) -> None:
        one_of(self.cache, ("auto", "static", "dynamic"), "grpo.cache")
        if self.group_size < 2:
            raise ValueError(
                f"grpo.group_size={self.group_size}: GRPO needs >= 2 completions per prompt "
                "(advantages are relative within a group)."
            )
        if not self.rewards:  # names and parameters are checked against c2s.rewards by the GRPO recipe
            raise ValueError("grpo.rewards is empty: give at least one reward name -> weight, e.g. {label_match: 1.0}.")
        one_of(self.aggregation, AGGREGATIONS, "grpo.aggregation")
        if self.inner_iterations < 1 or self.max_new_tokens < 1 or self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ValueError("grpo: inner_iterations and max_new_tokens must be >= 1, temperature > 0, 0 < top_p <= 1.")
        if min(self.eps_low, self.eps_high, self.beta) < 0:
            raise ValueError("grpo: eps_low, eps_high and beta must be >= 0.")


@dataclass
class StageConfig:
    """configs/stage/: one training stage. Budget: max_steps, else max_tokens, else max_examples, else max_epochs."""

    mode: str = "pretrain"  # c2s.training.recipes.RECIPES: pretrain (all tokens) | sft (targets) | grpo (rewards)
    task_mix: TaskMixConfig = field(default_factory=TaskMixConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    max_steps: int = -1
    max_tokens: int | None = None  # non-pad tokens over all ranks
    max_examples: int | None = None  # prompts seen over all ranks (equal cells seen across tokenizers)
    max_epochs: int = 1
    batch_size: int = 8
    max_seq_len: int = 1024
    overlong: str = "drop"  # an example longer than max_seq_len: drop (counted, logged) | refuse; never cut
    grad_clip: float = 1.0
    accumulate_grad_batches: int = 1
    val_every_n_steps: int | None = None  # null: once per epoch
    ckpt_every_n_steps: int = 50
    log_every_n_steps: int = 5
    seed: int | None = None  # training seed (init, sampling, data order); null: the run's seed (which also splits data)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)  # used by mode=grpo only

    def __post_init__(self) -> None:
        one_of(self.overlong, OVERLONG, "stage.overlong")
        positive(
            self,
            "batch_size",
            "max_seq_len",
            "accumulate_grad_batches",
            "ckpt_every_n_steps",
            "log_every_n_steps",
            "val_every_n_steps",
            prefix="stage.",
        )
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(
                f"stage.max_steps={self.max_steps}: give a positive number of steps, or -1 to budget by "
                "max_tokens or max_epochs (0 would train nothing and still export)."
            )
        for key in ("max_tokens", "max_examples"):
            if getattr(self, key) is not None and getattr(self, key) <= 0:
                raise ValueError(f"stage.{key}={getattr(self, key)} must be positive (or null).")
        if (
            self.max_epochs == 0
            or self.max_epochs < -1
            or (self.max_epochs == -1 and self.max_steps == -1 and not (self.max_tokens or self.max_examples))
        ):
            raise ValueError(
                f"stage.max_epochs={self.max_epochs}: give a positive number of epochs (-1, unbounded, "
                "only with max_steps, max_tokens or max_examples; 0 would export untrained weights)."
            )
        if self.grad_clip < 0:
            raise ValueError(f"stage.grad_clip={self.grad_clip} must be >= 0.")
