"""Prompt batches for GRPO: rows of the task mix from the prompt shards, dealt to ranks whole,
so a prompt's G completions are sampled, scored and normalised on one rank.

A batch is ``{"rows": [row dicts], "epoch", "batch_index", "is_padding": False}``; a row has
task, prompt, target, prompt_ids, cell_ids and meta. Epoch order: the task-mix weights select
and shuffle rows (c2s.data.packing.select_epoch, seeded by (seed, epoch)); the last partial
round of batches is dropped so every rank runs the same number of steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import lightning as L
import numpy as np
from torch.utils.data import IterableDataset

from c2s.data.datamodule import ResumableLoader, trainer_rank
from c2s.data.packing import select_epoch
from c2s.data.shards import ShardSet
from c2s.errors import C2SInputError

COLUMNS = ["task", "prompt", "target", "prompt_ids", "cell_ids", "meta"]


class PromptStream(IterableDataset):
    """One rank's prompt batches of a split; global batch b goes to rank b % world_size."""

    def __init__(
        self,
        rows: list[dict],
        task_ids: np.ndarray,
        weights: np.ndarray,
        batch_size: int,
        seed: int,
        rank: int,
        world_size: int,
        shuffle: bool = True,
    ) -> None:
        self.rows, self.task_ids, self.weights = rows, task_ids, weights
        self.batch_size, self.seed, self.rank, self.world_size, self.shuffle = (
            batch_size,
            seed,
            rank,
            world_size,
            shuffle,
        )
        self.epoch, self.skip = 0, 0

    def plan(self, epoch: int) -> list[np.ndarray]:
        order = (
            select_epoch(self.task_ids, self.weights, self.seed, epoch) if self.shuffle else np.arange(len(self.rows))
        )
        if self.shuffle:
            n = len(order) // self.batch_size
            n -= n % self.world_size
        else:  # evaluation: every prompt, the last batch may be short
            n = -(-len(order) // self.batch_size)
        return [order[i * self.batch_size : (i + 1) * self.batch_size] for i in range(n)]

    def batches_per_rank(self, epoch: int) -> int:
        return len(self.plan(epoch)[self.rank :: self.world_size])

    def position(self, batch_index: int) -> int:
        return batch_index // self.world_size

    def __iter__(self):
        plan = self.plan(self.epoch)
        for b in range(self.rank + self.skip * self.world_size, len(plan), self.world_size):
            yield {"rows": [self.rows[i] for i in plan[b]], "epoch": self.epoch, "batch_index": b, "is_padding": False}


class PromptDataModule(L.LightningDataModule):
    """Train prompts of the tasks with weight > 0 (weights multiply, as in pre-training) and
    ``eval_prompts`` held-out prompts of the same tasks from ``val_split`` (subset seeded by
    ``eval_seed``, default ``seed``)."""

    def __init__(
        self,
        shards_dir: str | Path,
        weights: Mapping[str, float],
        default_weight: float,
        batch_size: int,
        eval_prompts: int,
        seed: int = 0,
        val_split: str = "val",
        eval_seed: int | None = None,
    ) -> None:
        super().__init__()
        self.shards = ShardSet(shards_dir)
        self.tokenizer = self.shards.tokenizer()
        self.tasks = sorted({t for split in self.shards.manifest["counts"].values() for t in split})
        unknown = sorted(set(weights) - set(self.tasks))
        if unknown:
            raise C2SInputError(
                f"Task mix names {unknown}, which the shards in {shards_dir} lack. Tasks: {self.tasks}."
            )
        self.weights = np.array([float(weights.get(t, default_weight)) for t in self.tasks])
        self.active = [t for t, w in zip(self.tasks, self.weights) if w > 0]
        if not self.active:
            raise C2SInputError(f"The GRPO task mix gives every task weight 0; tasks present: {self.tasks}.")
        self.batch_size, self.eval_prompts, self.seed, self.val_split = batch_size, eval_prompts, seed, val_split
        self.train_rows = self._read("train")
        if len(self.train_rows) < batch_size:
            raise C2SInputError(
                f"Only {len(self.train_rows)} train prompts of {self.active} for batch_size={batch_size}."
            )
        val = self._read(val_split)
        if len(val) > eval_prompts:
            rng = np.random.default_rng(seed if eval_seed is None else eval_seed)  # same subset for every training seed
            keep = np.sort(rng.choice(len(val), eval_prompts, replace=False))
            val = [val[i] for i in keep]
        self.val_rows = val

    def _read(self, split: str) -> list[dict[str, Any]]:
        rows = self.shards.rows(split, COLUMNS, set(self.active))
        return sorted(rows, key=lambda r: self.active.index(r["task"]))  # stable: file order within a task

    def stream(self, split: str, rank: int = 0, world_size: int = 1) -> PromptStream:
        rows = self.train_rows if split == "train" else self.val_rows
        ids = np.array([self.tasks.index(r["task"]) for r in rows], dtype=np.int64)
        return PromptStream(
            rows, ids, self.weights, self.batch_size, self.seed, rank, world_size, shuffle=split == "train"
        )

    def train_dataloader(self) -> ResumableLoader:
        return ResumableLoader(self.stream("train", *trainer_rank(self.trainer)), num_workers=0)

    def val_dataloader(self) -> ResumableLoader:
        return ResumableLoader(self.stream("val", *trainer_rank(self.trainer)), num_workers=0, fixed_epoch=0)
