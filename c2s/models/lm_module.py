"""One causal-LM LightningModule for pre-training and SFT; the DataModule decides the labels.

Loss: token-level cross-entropy over labels != -100, averaged over those tokens (a padding
batch has none and contributes zero). Packed examples are separated by passing
``position_ids`` (restarting per example) with no 2-D mask and ``use_cache=False``: transformers
then builds a block-diagonal causal mask, so a packed row computes exactly what the examples
would compute alone (tested).
"""

from __future__ import annotations

import math
import random
import time
from typing import Any, Mapping

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from c2s.models.build import add_lora, build_model, check_tokenizer, count_parameters
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


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier: linear warm-up over ``warmup`` steps, cosine to ``min_ratio`` at ``total``."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class CausalLMModule(L.LightningModule):
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
        self.tokenizer = tokenizer
        self.model: torch.nn.Module | None = None
        self.val_history: list[dict[str, Any]] = []
        self._t_last: float | None = None
        self._p = f"{log_prefix}/" if log_prefix else ""

    def configure_model(self) -> None:
        if self.model is not None:
            return
        h = self.hparams
        model = build_model(
            h.model, self.tokenizer, init_from=h.init_from, device_type=self._device_type(), packed=self.packed
        )
        check_tokenizer(model, self.tokenizer)
        if h.stage["lora"]["enabled"]:
            model = add_lora(model, h.model["arch"], h.stage["lora"])
        self._param_counts = count_parameters(model)  # before sharding (FSDP gives tied embeddings two copies)
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
        self.print(f"{self.hparams.model['name']}: {counts['total']:,} parameters, {counts['trainable']:,} trainable")
        if self.logger:
            self.logger.log_hyperparams({f"{self._p}parameters/{k}": v for k, v in counts.items()})

    # ---- training -------------------------------------------------------------------------
    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        ce, mask = token_losses(self.model, batch, self.hparams.model.get("logits_chunk"))
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
        ce, mask = token_losses(self.model, batch, self.hparams.model.get("logits_chunk"))
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

    # ---- optimisation ---------------------------------------------------------------------
    def on_before_optimizer_step(self, optimizer) -> None:
        # Lightning's gradient_clip_val does not cover FSDP2 (DTensor) parameters: clip here
        clip = self.hparams.stage["grad_clip"]
        if self.hparams.shard and clip:
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.grad is not None], clip)

    def configure_optimizers(self):
        s = self.hparams.stage
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = instantiate(s["optimizer"])(params)
        total, sch = self.hparams.total_steps, s["scheduler"]
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, sch["warmup_steps"], total, sch["min_lr_ratio"])
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
