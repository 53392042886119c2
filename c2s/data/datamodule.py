"""LightningDataModule: prepares shards (rank 0), streams packed batches with task-mix
weights, splits by rank and worker, and resumes mid-epoch from a checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Mapping

import lightning as L
import numpy as np
from torch.utils.data import DataLoader

from c2s.data.prepare import prepare, shard_dir
from c2s.data.shards import ShardSet
from c2s.data.stream import PackedStream, TokenIndex
from c2s.errors import C2SInputError

log = logging.getLogger(__name__)


class ResumableLoader(DataLoader):
    """DataLoader over a :class:`PackedStream` that sets the epoch before each pass and
    implements ``state_dict``/``load_state_dict`` (Lightning saves them in checkpoints).

    State: the epoch and the batches this rank had *trained on* (from the trainer's progress
    when attached, else the batches delivered), so resuming skips exactly those.
    """

    def __init__(self, stream: PackedStream, num_workers: int, epoch_fn: Callable[[], int | None] | None = None,
                 progress_fn: Callable[[], int | None] | None = None) -> None:
        super().__init__(stream, batch_size=None, num_workers=num_workers, persistent_workers=False)
        self._epoch_fn, self._progress_fn = epoch_fn, progress_fn
        self._pending: dict[str, int] | None = None
        self._epoch, self._delivered, self._next_epoch = 0, 0, 0

    def __iter__(self):
        epoch = self._epoch_fn() if self._epoch_fn else None
        epoch = self._next_epoch if epoch is None else epoch
        skip = self._pending["consumed"] if self._pending and self._pending["epoch"] == epoch else 0
        self._pending = None
        self.dataset.epoch, self.dataset.skip = epoch, skip
        self._epoch, self._delivered, self._next_epoch = epoch, skip, epoch + 1
        for batch in super().__iter__():
            self._delivered += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        trained = self._progress_fn() if self._progress_fn else None
        return {"epoch": self._epoch, "consumed": self._delivered if trained is None else int(trained)}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        self._pending = {"epoch": int(state["epoch"]), "consumed": int(state["consumed"])}
        self._next_epoch = int(state["epoch"])


class C2SDataModule(L.LightningDataModule):
    """Streams prompt shards.

    Args:
        prepare_cfg: a resolved PrepareConfig dict; ``prepare_data`` writes or reuses its shards.
        shards_dir: an existing shard directory instead of ``prepare_cfg``.
        weights: task -> multiplier (see c2s.data.packing); tasks not listed get ``default_weight``.
        mode: ``pretrain`` (loss on all tokens) or ``sft`` (loss on target tokens only).
        max_seq_len: tokens per packed sequence; batch_size: sequences per batch.
    """

    def __init__(self, prepare_cfg: Mapping[str, Any] | None = None, shards_dir: str | None = None,
                 weights: Mapping[str, float] | None = None, default_weight: float = 1.0, mode: str = "pretrain",
                 max_seq_len: int = 1024, batch_size: int = 8, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        if (prepare_cfg is None) == (shards_dir is None):
            raise C2SInputError("Give exactly one of prepare_cfg or shards_dir to the DataModule.")
        self.prepare_cfg = dict(prepare_cfg) if prepare_cfg is not None else None
        self.shards_dir = Path(shards_dir) if shards_dir else shard_dir(self.prepare_cfg)
        self.weights, self.default_weight = dict(weights or {}), default_weight
        self.mode, self.max_seq_len, self.batch_size = mode, max_seq_len, batch_size
        self.num_workers, self.seed = num_workers, seed
        self.shards: ShardSet | None = None
        self._index: dict[str, TokenIndex] = {}

    def prepare_data(self) -> None:  # Lightning calls this on rank 0 only
        if self.prepare_cfg is not None:
            prepare(self.prepare_cfg)

    def setup(self, stage: str | None = None) -> None:
        if self.shards is not None:
            return
        self.shards = ShardSet(self.shards_dir)
        self.tokenizer = self.shards.tokenizer()
        self.tasks = sorted({t for split in self.shards.manifest["counts"].values() for t in split})
        unknown = sorted(set(self.weights) - set(self.tasks))
        if unknown:
            raise C2SInputError(f"Task mix names {unknown}, which the shards in {self.shards_dir} lack. "
                                f"Tasks present: {self.tasks}.")
        if not any(self.task_weights() > 0):
            raise C2SInputError(f"The task mix gives every task weight 0; tasks present: {self.tasks}.")

    def task_weights(self, eval_: bool = False) -> np.ndarray:
        w = np.array([float(self.weights.get(t, self.default_weight)) for t in self.tasks])
        return (w > 0).astype(float) if eval_ else w  # evaluation: each mixed-in task's examples once

    def index(self, split: str) -> TokenIndex:
        if split not in self._index:
            self._index[split] = TokenIndex.from_shards(self.shards, split, self.tasks)
        return self._index[split]

    def _rank(self) -> tuple[int, int]:
        t = self.trainer
        return (t.global_rank, t.world_size) if t is not None else (0, 1)

    def stream(self, split: str, rank: int | None = None, world_size: int | None = None) -> PackedStream:
        self.setup()
        r, w = self._rank()
        return PackedStream(
            self.index(split), self.task_weights(eval_=split != "train"), max_len=self.max_seq_len,
            batch_size=self.batch_size, mode=self.mode, seed=self.seed, rank=r if rank is None else rank,
            world_size=w if world_size is None else world_size, workers=self.num_workers,
            pad_id=self.tokenizer.pad_token_id, bos_id=self.tokenizer.bos_token_id, eos_id=self.tokenizer.eos_token_id,
        )

    def _loader(self, split: str) -> ResumableLoader:
        t = self.trainer
        if split != "train":
            return ResumableLoader(self.stream(split), self.num_workers, epoch_fn=lambda: 0)
        epoch_fn = (lambda: t.current_epoch) if t is not None else None
        progress_fn = (lambda: t.fit_loop.epoch_loop.batch_progress.current.processed) if t is not None else None
        return ResumableLoader(self.stream(split), self.num_workers, epoch_fn, progress_fn)

    def train_dataloader(self) -> ResumableLoader:
        return self._loader("train")

    def val_dataloader(self) -> ResumableLoader:
        return self._loader("val")

    def test_dataloader(self) -> ResumableLoader:
        return self._loader("test")
