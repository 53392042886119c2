"""LightningDataModule: prepares shards (rank 0), streams packed batches with task-mix
weights, splits by rank and worker, and resumes mid-epoch from a checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import lightning as L
import numpy as np
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from c2s.data.shards import ShardSet
from c2s.data.stream import PackedStream, TokenIndex
from c2s.errors import C2SInputError

log = logging.getLogger(__name__)


class ResumableLoader(DataLoader):
    """DataLoader over a :class:`PackedStream` that counts its own epochs and implements
    ``state_dict``/``load_state_dict`` (Lightning saves them in checkpoints).

    State: (epoch, batches this rank consumed). Under a Trainer, :class:`TrainedPosition` marks
    each batch after its optimizer step, so prefetched-but-untrained batches are not counted;
    otherwise delivered batches are. A finished epoch is stored as (epoch + 1, 0).
    """

    def __init__(self, stream: PackedStream, num_workers: int, fixed_epoch: int | None = None) -> None:
        super().__init__(stream, batch_size=None, num_workers=num_workers, persistent_workers=False)
        self._fixed_epoch = fixed_epoch
        self._pending: dict[str, int] | None = None
        self._epoch, self._delivered, self._next_epoch = 0, 0, 0
        self._trained: int | None = None

    def __iter__(self):
        epoch, skip = (self._fixed_epoch, 0) if self._fixed_epoch is not None else (self._next_epoch, 0)
        if self._pending is not None:
            epoch, skip = self._pending["epoch"], self._pending["consumed"]
            self._pending = None
        self.dataset.epoch, self.dataset.skip = epoch, skip
        self.dataset.plan(epoch)  # here, before the workers fork, so they share it
        self._epoch, self._delivered, self._trained = epoch, skip, None
        for batch in super().__iter__():
            self._delivered += 1
            yield batch
        self._next_epoch = epoch + 1

    def mark_trained(self, epoch: int, batch_index: int) -> None:
        if epoch == self._epoch:
            self._trained = self.dataset.position(batch_index) + 1

    def state_dict(self) -> dict[str, int]:
        consumed = self._delivered if self._trained is None else self._trained
        if consumed >= self.dataset.batches_per_rank(self._epoch):
            return {"epoch": self._epoch + 1, "consumed": 0}
        return {"epoch": self._epoch, "consumed": consumed}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        self._pending = {"epoch": int(state["epoch"]), "consumed": int(state["consumed"])}
        self._next_epoch = int(state["epoch"])


class TrainedPosition(Callback):
    """Tell the train loader which batch has just been trained on (for exact resume)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loader = trainer.train_dataloader
        if isinstance(loader, ResumableLoader):
            loader.mark_trained(int(batch["epoch"]), int(batch["batch_index"]))


def trainer_rank(trainer: L.Trainer | None) -> tuple[int, int]:
    """(global rank, world size) of a DataModule's trainer; (0, 1) before it has one."""
    return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)


class C2SDataModule(L.LightningDataModule):
    """Streams prompt shards.

    Args:
        shards_dir: a prepared shard directory (c2s.data.prepare writes it).
        weights: task -> multiplier (see c2s.data.packing); tasks not listed get ``default_weight``.
        mode: ``pretrain`` (loss on all tokens) or ``sft`` (loss on target tokens only).
        max_seq_len: tokens per packed sequence; batch_size: sequences per batch.
        overlong: an example longer than ``max_seq_len`` (``<s> prompt target </s>``) would lose its end, the
            target's ``</s>`` at least: ``drop`` leaves it out (counted per task, logged, ``overlong_counts``),
            ``refuse`` stops with the counts and the fix.
    """

    def __init__(
        self,
        shards_dir: str | Path,
        weights: Mapping[str, float] | None = None,
        default_weight: float = 1.0,
        mode: str = "pretrain",
        max_seq_len: int = 1024,
        batch_size: int = 8,
        num_workers: int = 0,
        seed: int = 0,
        overlong: str = "drop",
    ) -> None:
        super().__init__()
        self.overlong, self.overlong_counts = overlong, {}  # drop | refuse (checked by StageConfig)
        self.shards_dir = Path(shards_dir)
        self.weights, self.default_weight = dict(weights or {}), default_weight
        self.mode, self.max_seq_len, self.batch_size = mode, max_seq_len, batch_size
        self.num_workers, self.seed = num_workers, seed
        self.shards: ShardSet | None = None
        self._index: dict[str, TokenIndex] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.shards is not None:
            return
        self.shards = ShardSet(self.shards_dir)
        self.tokenizer = self.shards.tokenizer()
        self.tasks = sorted({t for split in self.shards.manifest["counts"].values() for t in split})
        if set(self.weights) - set(self.tasks):  # only then: importing the tasks costs 30 MB of RSS
            from c2s.tasks import REGISTRY

            unknown = sorted(set(self.weights) - set(REGISTRY))
            if unknown:
                raise C2SInputError(f"The task mix names unknown task(s) {unknown}; known tasks: {sorted(REGISTRY)}.")
        absent = sorted(t for t, w in self.weights.items() if w > 0 and t not in self.tasks)
        if absent:  # a shared mix (e.g. the main job's) on data that cannot render every task
            log.warning(
                "Task mix: %s not in the shards in %s (data without what they need); skipped.", absent, self.shards_dir
            )
        if not any(self.task_weights() > 0):
            raise C2SInputError(
                f"The task mix gives every task in the shards weight 0 (tasks present: {self.tasks}; "
                f"mixed in but absent: {absent}). Weight a present task."
            )

    def task_weights(self, eval_: bool = False) -> np.ndarray:
        w = np.array([float(self.weights.get(t, self.default_weight)) for t in self.tasks])
        return (w > 0).astype(float) if eval_ else w  # evaluation: each mixed-in task's examples once

    def index(self, split: str) -> TokenIndex:
        if split not in self._index:
            self._index[split] = TokenIndex.from_shards(self.shards, split, self.tasks)
        return self._index[split]

    def keep(self, split: str) -> np.ndarray | None:
        """Examples of ``split`` that fit ``max_seq_len`` (None: all do); the others are counted per task and
        dropped or refused (``overlong``)."""
        index = self.index(split)
        over = index.lengths > self.max_seq_len
        if not over.any():
            return None
        per_task = np.bincount(index.task_ids[over], minlength=len(self.tasks))
        counts = {t: int(n) for t, n in zip(self.tasks, per_task) if n}
        self.overlong_counts[split] = counts
        longest = int(index.lengths.max())
        msg = (
            f"{int(over.sum())} {split} examples are longer than max_seq_len={self.max_seq_len} tokens (longest "
            f"{longest}; per task: {counts}): they would be cut, losing their answer's end and </s>"
        )
        if self.overlong == "refuse":
            raise C2SInputError(
                f"{msg}. Raise stages.<stage>.max_seq_len to {longest}, shorten them (tasks.options.genes_per_cell, "
                "tasks.options.max_tokens), or set stages.<stage>.overlong=drop."
            )
        log.warning("%s; dropped (stages.<stage>.overlong=drop).", msg)
        return ~over

    def stream(self, split: str, rank: int | None = None, world_size: int | None = None) -> PackedStream:
        self.setup()
        r, w = trainer_rank(self.trainer)
        return PackedStream(
            self.index(split),
            self.task_weights(eval_=split != "train"),
            max_len=self.max_seq_len,
            batch_size=self.batch_size,
            mode=self.mode,
            seed=self.seed,
            rank=r if rank is None else rank,
            world_size=w if world_size is None else world_size,
            workers=self.num_workers,
            pad_id=self.tokenizer.pad_token_id,
            bos_id=self.tokenizer.bos_token_id,
            eos_id=self.tokenizer.eos_token_id,
            keep=self.keep(split),
        )

    def _loader(self, split: str) -> ResumableLoader:
        return ResumableLoader(self.stream(split), self.num_workers, fixed_epoch=None if split == "train" else 0)

    def train_dataloader(self) -> ResumableLoader:
        return self._loader("train")

    def val_dataloader(self) -> ResumableLoader:
        return self._loader("val")

    def test_dataloader(self) -> ResumableLoader:
        return self._loader("test")
