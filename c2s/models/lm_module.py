"""The causal-LM LightningModule for pre-training and SFT; the DataModule decides the labels.

Loss: token-level cross-entropy over labels != -100, averaged over those tokens (a padding
batch has none and contributes zero). Packed examples are separated by passing
``position_ids`` (restarting per example) with no 2-D mask and ``use_cache=False``: transformers
then builds a block-diagonal causal mask, so a packed row computes exactly what the examples
would compute alone (tested).
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import torch

from c2s.models.decoder_module import DecoderModule
from c2s.models.losses import head_losses, token_losses

__all__ = ["CausalLMModule", "head_losses", "token_losses"]


class CausalLMModule(DecoderModule):
    """Pre-training and SFT on packed rows; arguments as :class:`~c2s.models.decoder_module.DecoderModule`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._t_last: float | None = None

    # ---- training -------------------------------------------------------------------------
    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        ce, mask = token_losses(self.model, batch, self.model_cfg.logits_chunk)
        loss = ce.sum() / mask.sum().clamp(min=1)  # a padding batch has no labels: loss 0, graph kept
        now = time.perf_counter()
        world = self.trainer.world_size
        if self._t_last is not None:
            dt = now - self._t_last
            self.log(self._p + "train/tokens_per_s", batch["n_tokens"] * world / dt, on_step=True)  # an int: no sync
            self.log(self._p + "train/cells_per_s", batch["n_cells"] * world / dt, on_step=True)
        self._t_last = now
        if not batch["is_padding"]:
            self.log(self._p + "train/loss", loss, on_step=True, prog_bar=True)
            self.log(self._p + "train/ppl", torch.exp(loss.detach().clamp(max=20)), on_step=True)
        return loss

    def on_train_epoch_start(self) -> None:
        self._t_last = None

    # ---- validation: loss per task --------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        k = len(self.hparams.tasks)
        self._sums = torch.zeros(k, dtype=torch.float64, device=self.device)
        self._counts = torch.zeros(k, dtype=torch.float64, device=self.device)

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        ce, mask = token_losses(self.model, batch, self.model_cfg.logits_chunk)
        task = batch["task_ids"][:, 1:][mask]  # aligned with ce
        self._sums.index_add_(0, task, ce.double())
        self._counts.index_add_(0, task, torch.ones_like(ce, dtype=torch.float64))

    def on_validation_epoch_end(self) -> None:
        sums = self.trainer.strategy.reduce(self._sums, reduce_op="sum")
        counts = self.trainer.strategy.reduce(self._counts, reduce_op="sum")
        record = {"step": int(self.global_step), "loss": float(sums.sum() / counts.sum().clamp(min=1)), "tasks": {}}
        self.log(self._p + "val/loss", record["loss"], prog_bar=True, sync_dist=False)
        for i, name in enumerate(self.hparams.tasks):
            if counts[i] > 0:
                record["tasks"][name] = float(sums[i] / counts[i])
                self.log(f"{self._p}val/loss/{name}", record["tasks"][name], sync_dist=False)
        self.val_history.append(record)
