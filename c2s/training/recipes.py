"""Stage recipes: what differs between training methods (one recipe per method, as in torchtune).

A recipe gives a stage its DataModule, budget, LightningModule, the Trainer settings that are its own, and
the key its validation reports; ``c2s.training.run.run_stage`` does everything else the same way for every
stage. ``RECIPES`` maps ``stage.mode`` to a recipe; each recipe's ``check`` (reward names, GRPO's limits) runs for
every stage before any data or model work (c2s.training.names).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from c2s.config.train import TrainConfig
from c2s.data.datamodule import C2SDataModule
from c2s.errors import C2SInputError
from c2s.training.budget import Budget, grpo_budget, resolve_budget
from c2s.training.strategies import STRATEGIES


class Recipe:
    """Pre-training and SFT: packed causal-LM batches (the DataModule sets the labels by mode)."""

    metric_key: ClassVar[str] = "loss"  # what validation reports (val_history rows, the log line)

    def __init__(self, cfg: TrainConfig, name: str, shards_dir: Path, init_from: str | None, seed: int) -> None:
        self.cfg, self.name, self.shards_dir, self.init_from, self.seed = cfg, name, shards_dir, init_from, seed
        self.stage = cfg.stages[name]
        self.world = cfg.strategy.devices * cfg.strategy.num_nodes

    @classmethod
    def check(cls, name: str, cfg: TrainConfig) -> None:
        """Checks of stage ``name`` that config validation cannot make (they need a registry)."""

    def datamodule(self):
        s = self.stage
        dm = C2SDataModule(
            shards_dir=str(self.shards_dir),
            weights=s.task_mix.weights,
            default_weight=s.task_mix.default_weight,
            mode=s.mode,
            max_seq_len=s.max_seq_len,
            batch_size=s.batch_size,
            num_workers=self.cfg.num_workers,
            seed=self.seed,
            overlong=s.overlong,
        )
        dm.setup()
        return dm

    def budget(self, dm) -> Budget:
        return resolve_budget(self.stage, dm, self.world)

    def module_class(self) -> type:
        from c2s.models.lm_module import CausalLMModule

        return CausalLMModule

    def module(self, dm, budget: Budget):
        """The LightningModule. Its hyper-parameters are plain dicts, so checkpoints load with weights_only."""
        strategy = self.cfg.strategy
        return self.module_class()(
            dataclasses.asdict(self.cfg.model),
            dataclasses.asdict(self.stage),
            dm.tokenizer,
            dm.tasks,
            budget.schedule_steps,
            init_from=self.init_from,
            shard=STRATEGIES[strategy.name].sharded,
            activation_checkpointing=strategy.activation_checkpointing,
            log_prefix=self.name,
            shards_dir=str(self.shards_dir),
        )

    def trainer_kwargs(self) -> dict[str, Any]:
        sharded = STRATEGIES[self.cfg.strategy.name].sharded  # FSDP clips in its own step (Lightning cannot here)
        return {"gradient_clip_val": None if sharded else self.stage.grad_clip, "check_val_every_n_epoch": 1}


class GRPORecipe(Recipe):
    """GRPO: prompt batches, sampled groups, task rewards; the module steps and clips the optimizer itself."""

    metric_key = "reward"

    @classmethod
    def check(cls, name: str, cfg: TrainConfig) -> None:
        from c2s.rewards import check_rewards

        stage = cfg.stages[name]
        check_rewards(stage.grpo.rewards)
        if stage.max_tokens or stage.max_examples:
            raise C2SInputError(
                f"stages.{name}.max_tokens and max_examples do not apply to mode=grpo; budget it with max_steps or "
                "max_epochs."
            )
        if stage.accumulate_grad_batches != 1:
            raise C2SInputError(
                f"stages.{name}.accumulate_grad_batches must be 1 under mode=grpo (it steps the optimizer itself; "
                "raise batch_size or grpo.group_size instead)."
            )
        if name == cfg.order()[0] and cfg.model.init == "scratch" and not cfg.init_from:
            raise C2SInputError(
                "The first stage is GRPO but the model is built from scratch: GRPO improves a trained "
                "model. Set init_from=<HF export of an SFT stage> or run an sft stage before it."
            )
        if STRATEGIES[cfg.strategy.name].sharded:
            raise C2SInputError(
                f"Stage {name}: mode=grpo under a sharded strategy (strategy={cfg.strategy.name}) is not supported "
                "yet (ranks generate different lengths); use strategy=ddp."
            )

    def datamodule(self):
        from c2s.rl.checks import check_grpo_start
        from c2s.rl.prompts import PromptDataModule

        s = self.stage
        dm = PromptDataModule(
            self.shards_dir,
            s.task_mix.weights,
            s.task_mix.default_weight,
            s.batch_size,
            s.grpo.eval_prompts,
            seed=self.seed,
            eval_seed=self.cfg.seed,
        )
        check_grpo_start(self.init_from, dm.tokenizer)
        return dm

    def budget(self, dm) -> Budget:
        return grpo_budget(self.stage, dm, self.world)

    def module_class(self) -> type:
        from c2s.rl.module import GRPOModule

        return GRPOModule

    def trainer_kwargs(self) -> dict[str, Any]:
        # validation every n batches overall (not per epoch) when val_every_n_steps is set
        return {"gradient_clip_val": None, "check_val_every_n_epoch": None if self.stage.val_every_n_steps else 1}


RECIPES: dict[str, type[Recipe]] = {"pretrain": Recipe, "sft": Recipe, "grpo": GRPORecipe}
