"""What every training method's LightningModule shares: the decoder (built from config or loaded,
LoRA, FSDP2), the optimiser and warm-up-cosine schedule, gradient clipping under FSDP, parameter
counts, and RNG state and validation history in checkpoints. Subclasses add their training and
validation steps (c2s.models.lm_module for pre-training and SFT, c2s.rl.module for GRPO).

Hyper-parameters stay plain dicts (checkpoints load with ``weights_only=True``); the module rebuilds
the typed configs from them once, as ``model_cfg`` and ``stage_cfg``.
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any, Mapping

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate

from c2s.config.model import ModelConfig
from c2s.config.stage import StageConfig
from c2s.config.validate import from_dict
from c2s.models.build import add_lora, build_model, check_tokenizer, count_parameters


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier: linear warm-up over ``warmup`` steps, cosine to ``min_ratio`` at ``total``."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class DecoderModule(L.LightningModule):
    """Args: model (ModelConfig dict), stage (StageConfig dict), tokenizer (HF tokenizer),
    tasks (names indexed by the batches' task_ids), total_steps (for the LR schedule),
    init_from (HF dir to load), shard (apply FSDP2 in ``configure_model``), log_prefix (e.g. the
    stage name: metrics are logged as ``<prefix>/train/loss``), shards_dir (recorded for evaluation)."""

    packed = True  # batches are packed rows: attention_for picks flex attention on CUDA

    def __init__(
        self,
        model: Mapping[str, Any],
        stage: Mapping[str, Any],
        tokenizer,
        tasks: list[str],
        total_steps: int,
        init_from: str | None = None,
        shard: bool = False,
        activation_checkpointing: bool = False,
        log_prefix: str = "",
        shards_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["tokenizer"])
        self.model_cfg: ModelConfig = from_dict(ModelConfig, model, "The model hyper-parameters")
        self.stage_cfg: StageConfig = from_dict(StageConfig, stage, "The stage hyper-parameters")
        self.tokenizer = tokenizer
        self.model: torch.nn.Module | None = None
        self.val_history: list[dict[str, Any]] = []
        self._p = f"{log_prefix}/" if log_prefix else ""

    def build_decoder(self) -> torch.nn.Module:
        """A fresh decoder per ``model_cfg`` (from ``init_from`` when set), unwrapped and unsharded."""
        h = self.hparams
        return build_model(
            self.model_cfg, self.tokenizer, init_from=h.init_from, device_type=self._device_type(), packed=self.packed
        )

    def configure_model(self) -> None:
        if self.model is not None:
            return
        h = self.hparams
        model = self.build_decoder()
        check_tokenizer(model, self.tokenizer)
        if self.stage_cfg.lora.enabled:
            model = add_lora(model, self.stage_cfg.lora)
        self._param_counts = count_parameters(model)  # before sharding: full sizes, a tied matrix once
        if h.shard:
            from c2s.models.fsdp import shard_model

            shard_model(
                model,
                self.device_mesh["data_parallel"],
                bf16=self.trainer.accelerator.__class__.__name__ == "CUDAAccelerator",
                activation_checkpointing=h.activation_checkpointing,
            )
        self.model = model.train()  # from_pretrained returns eval mode; a resumed fit skips the first validate

    def _device_type(self) -> str:
        return self.trainer.strategy.root_device.type if self._trainer is not None else "cpu"

    def parameter_counts(self) -> dict[str, int]:
        return self._param_counts

    def on_fit_start(self) -> None:
        counts = self.parameter_counts()
        self.print(f"{self.model_cfg.name}: {counts['total']:,} parameters, {counts['trainable']:,} trainable")
        if self.logger:
            self.logger.log_hyperparams({f"{self._p}parameters/{k}": v for k, v in counts.items()})

    # ---- optimisation ---------------------------------------------------------------------
    def on_before_optimizer_step(self, optimizer) -> None:
        # Lightning's gradient_clip_val does not cover FSDP2 (DTensor) parameters: clip here
        clip = self.stage_cfg.grad_clip
        if self.hparams.shard and clip:
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.grad is not None], clip)

    def configure_optimizers(self):
        s = self.stage_cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = instantiate(dataclasses.asdict(s.optimizer))(params)
        total, sch = self.hparams.total_steps, s.scheduler
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, sch.warmup_steps, total, sch.min_lr_ratio)
        )
        return {
            "optimizer": optimizer,  # named per stage, so a resume can tell its rows in metrics.csv
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": f"{self._p}lr"},
        }

    # ---- checkpoints: RNG and history travel with the weights -----------------------------
    # Stored as tensors and plain Python types, so checkpoints load with weights_only=True.
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        version, state, gauss = random.getstate()
        checkpoint["c2s"] = {
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": {
                    "kind": kind,
                    "keys": torch.from_numpy(keys.astype(np.int64)),
                    "pos": int(pos),
                    "has_gauss": int(has_gauss),
                    "cached": float(cached),
                },
                "python": {"version": version, "state": list(state), "gauss": gauss},
            },
            "val_history": self.val_history,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("c2s")
        if not state:
            return
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        n = rng["numpy"]
        np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
        p = rng["python"]
        random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
        self.val_history = list(state["val_history"])
