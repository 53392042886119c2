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
import torch.nn.functional as F

from c2s.models.decoder_module import DecoderModule
from c2s.models.forward import logit_cap, soft_cap


def _head_ce(head: torch.nn.Module, hidden: torch.Tensor, labels: torch.Tensor, cap: float | None) -> torch.Tensor:
    return F.cross_entropy(soft_cap(head(hidden), cap).float(), labels, reduction="none")


def head_losses(
    head: torch.nn.Module,
    hidden: torch.Tensor,
    labels: torch.Tensor,
    cap: float | None = None,
    chunk: int | None = None,
) -> torch.Tensor:
    """Cross-entropy (N,) of hidden states (N, d) against labels (N,) through the LM head, soft-capped
    at ``cap`` (Gemma-2).

    When N × vocabulary exceeds ``chunk`` elements, tokens go through in chunks, each under
    activation checkpointing: only one chunk's logits exist at a time, and the backward pass
    recomputes them (one more head matmul per token: −10% tokens/s on Pythia-410m, so only
    Gemma-2's 256k vocabulary sets ``model.logits_chunk``). ``None``: one piece."""
    step = max(1, chunk // head.weight.shape[0]) if chunk else hidden.shape[0]
    if hidden.shape[0] <= step:
        return _head_ce(head, hidden, labels, cap)
    from torch.utils.checkpoint import checkpoint

    parts = []
    for i in range(0, hidden.shape[0], step):
        h, y = hidden[i : i + step], labels[i : i + step]
        parts.append(
            checkpoint(_head_ce, head, h, y, cap, use_reentrant=False)
            if torch.is_grad_enabled()
            else _head_ce(head, h, y, cap)
        )
    return torch.cat(parts)


def token_losses(
    model: torch.nn.Module, batch: Mapping[str, Any], chunk: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Losses of the supervised tokens: (ce (N,), mask (B, L-1)), N = mask.sum().

    Position t predicts token t+1. Logits are computed only where a label exists (after the
    decoder, the LM head runs on those hidden states only): under SFT that is a few target
    tokens per example instead of the whole vocabulary at every position. Gemma-2's final
    logit soft-capping is applied as its own forward does; see ``head_losses`` for chunking.
    """
    hidden = model.get_decoder()(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
    ).last_hidden_state
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    return head_losses(model.get_output_embeddings(), hidden[:, :-1][mask], labels[mask], logit_cap(model), chunk), mask


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
