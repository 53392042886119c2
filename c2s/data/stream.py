"""Token index of a split and the IterableDataset that streams packed batches from it.

Sequence of one example: ``<bos> prompt target <eos>`` (truncated at the end to max_len).
A batch is a dict of (B, L) tensors:
- input_ids; labels (-100 where no loss); position_ids (restart at 0 per example);
- segment_ids: 1, 2, … per example in a row, 0 on padding. Packed examples must not attend
  to each other: the model builds a block-diagonal causal mask from segment_ids;
- attention_mask (segment_ids > 0); task_ids (task index per token, -1 on padding);
plus n_examples, n_cells, epoch, batch_index (ints), example_ids (list: rows of the split's index)
and is_padding (bool: a filler batch, all labels -100).
Labels: ``pretrain`` puts loss on every token but each example's first (<bos>), so no example
predicts across a boundary; ``sft`` puts loss only on target tokens and <eos>.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc
import torch
from torch.utils.data import IterableDataset, get_worker_info

from c2s.data.packing import Batch, consumed_per_worker, pack, plan_batches, select_epoch, slot_batches
from c2s.data.shards import ShardSet

MODES = ("pretrain", "sft")


@dataclass
class TokenIndex:
    """All examples of one split, flattened: tokens as offsets + values (int32)."""

    tasks: list[str]  # task names; task_ids index into this
    task_ids: np.ndarray  # int16 (n,)
    n_cells: np.ndarray  # int32 (n,)
    p_off: np.ndarray  # int64 (n + 1,)
    p_val: np.ndarray  # int32
    t_off: np.ndarray
    t_val: np.ndarray

    def __len__(self) -> int:
        return int(self.task_ids.size)

    @property
    def lengths(self) -> np.ndarray:
        """Sequence length per example: bos + prompt + target + eos."""
        return 2 + np.diff(self.p_off) + np.diff(self.t_off)

    @classmethod
    def from_shards(cls, shards: ShardSet, split: str, tasks: list[str]) -> "TokenIndex":
        p_val, t_val, p_len, t_len, task_ids, n_cells = [], [], [], [], [], []
        pos = {t: i for i, t in enumerate(tasks)}
        for f in shards.files(split):
            tab = shards.read(f, ["task", "cell_ids", "prompt_ids", "target_ids"])
            task_ids.append(np.array([pos[t] for t in tab["task"].to_pylist()], dtype=np.int16))
            n_cells.append(pc.list_value_length(tab["cell_ids"]).to_numpy(zero_copy_only=False).astype(np.int32))
            for col, vals, lens in (("prompt_ids", p_val, p_len), ("target_ids", t_val, t_len)):
                arr = tab[col].combine_chunks()
                vals.append(pc.list_flatten(arr).to_numpy(zero_copy_only=False).astype(np.int32))
                lens.append(pc.list_value_length(arr).to_numpy(zero_copy_only=False).astype(np.int64))
        cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
        off = lambda lens: np.concatenate([[0], np.cumsum(cat(lens, np.int64))])  # noqa: E731
        return cls(tasks, cat(task_ids, np.int16), cat(n_cells, np.int32), off(p_len), cat(p_val, np.int32),
                   off(t_len), cat(t_val, np.int32))


def collate(index: TokenIndex, batch: Batch, max_len: int, mode: str, pad_id: int, bos_id: int, eos_id: int,
            epoch: int = 0) -> dict:
    """Build the (B, L) tensors of one batch (see module docstring)."""
    B = len(batch.packs)
    ids = np.full((B, max_len), pad_id, dtype=np.int64)
    labels = np.full((B, max_len), -100, dtype=np.int64)
    pos = np.zeros((B, max_len), dtype=np.int64)
    seg = np.zeros((B, max_len), dtype=np.int64)
    task = np.full((B, max_len), -1, dtype=np.int64)
    n_cells = 0
    for r, examples in enumerate(batch.packs):
        c = 0
        for s, ex in enumerate(examples, 1):
            p = index.p_val[index.p_off[ex] : index.p_off[ex + 1]]
            t = index.t_val[index.t_off[ex] : index.t_off[ex + 1]]
            seq = np.concatenate([[bos_id], p, t, [eos_id]])[: max_len - c]
            n = seq.size
            ids[r, c : c + n] = seq
            pos[r, c : c + n] = np.arange(n)
            seg[r, c : c + n] = s
            task[r, c : c + n] = index.task_ids[ex]
            first_label = 1 if mode == "pretrain" else 1 + p.size
            labels[r, c + first_label : c + n] = seq[first_label:]
            c += n
            n_cells += int(index.n_cells[ex])
    if batch.is_padding:
        labels[:] = -100
    return {
        "input_ids": torch.from_numpy(ids), "labels": torch.from_numpy(labels), "position_ids": torch.from_numpy(pos),
        "segment_ids": torch.from_numpy(seg), "attention_mask": torch.from_numpy((seg > 0).astype(np.int64)),
        "task_ids": torch.from_numpy(task), "n_examples": sum(len(p) for p in batch.packs),
        "n_cells": n_cells, "is_padding": batch.is_padding, "batch_index": batch.index, "epoch": epoch,
        "example_ids": [ex for p in batch.packs for ex in p],
    }


class PackedStream(IterableDataset):
    """Packed, batched examples of one split for one rank; splits further across DataLoader workers.

    ``epoch`` and ``skip`` (batches this rank already consumed in that epoch) are set by the
    loader before each pass; both travel to the workers with the dataset.
    """

    def __init__(self, index: TokenIndex, weights: np.ndarray, *, max_len: int, batch_size: int, mode: str,
                 seed: int, rank: int, world_size: int, workers: int, pad_id: int, bos_id: int, eos_id: int,
                 open_bins: int = 64) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.index, self.weights = index, np.asarray(weights, dtype=np.float64)
        self.max_len, self.batch_size, self.mode, self.seed = max_len, batch_size, mode, seed
        self.rank, self.world_size, self.workers = rank, world_size, max(1, workers)
        self.pad_id, self.bos_id, self.eos_id, self.open_bins = pad_id, bos_id, eos_id, open_bins
        self.epoch = 0
        self.skip = 0

    def plan(self, epoch: int) -> list[Batch]:
        """All batches of ``epoch`` (every rank and worker), padding included."""
        order = select_epoch(self.index.task_ids, self.weights, self.seed, epoch)
        packs = pack(order, self.index.lengths, self.max_len, self.open_bins)
        return plan_batches(packs, self.batch_size, self.world_size * self.workers)

    def batches_per_rank(self, epoch: int) -> int:
        return len(self.plan(epoch)) // self.world_size

    def position(self, batch_index: int) -> int:
        """0-based position of global batch ``batch_index`` in this rank's delivery order."""
        slots = self.world_size * self.workers
        return (batch_index // slots) * self.workers + (batch_index % slots) % self.workers

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info else 0
        if info and info.num_workers != self.workers:
            raise RuntimeError(f"PackedStream built for {self.workers} workers but the DataLoader has {info.num_workers}.")
        # The DataLoader reads workers round-robin from worker 0; after skipping, worker 0 must
        # serve the slot whose turn is next, so rotate the worker -> slot map by ``skip``.
        slot = (worker + self.skip) % self.workers
        mine = slot_batches(self.plan(self.epoch), self.rank, self.world_size, slot, self.workers)
        start = consumed_per_worker(self.skip, self.workers)[slot]
        for batch in mine[start:]:
            yield collate(self.index, batch, self.max_len, self.mode, self.pad_id, self.bos_id, self.eos_id, self.epoch)
