"""Token index of a split and the IterableDataset that streams packed batches from it.

Sequence of one example: ``<bos> prompt target <eos>`` (the DataModule drops or refuses examples over max_len).
A batch is a dict of (B, L) tensors:
- input_ids; labels (-100 where no loss); position_ids (restart at 0 per example);
- segment_ids: 1, 2, … per example in a row, 0 on padding. Packed examples must not attend
  to each other: the model builds a block-diagonal causal mask from segment_ids;
- attention_mask (segment_ids > 0); task_ids (task index per token, -1 on padding);
plus n_examples, n_tokens (non-padding), n_cells, epoch, batch_index (ints), example_ids (list: rows of the
split's index)
and is_padding (bool: a filler batch, all labels -100).
Labels: ``pretrain`` puts loss on every token but each example's first (<bos>), so no example
predicts across a boundary; ``sft`` puts loss only on target tokens and <eos>.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from c2s.data.packing import Batch, EpochPlan, consumed_per_worker, pack_arrays, select_epoch
from c2s.data.shards import ShardSet
from c2s.errors import C2SInputError

MODES = ("pretrain", "sft")


class TokenIndex:
    """All examples of one split: per example a task id, prompt and target lengths, cells shown
    and a token offset inside its file (12 bytes; the file is found from per-file example
    offsets). Token ids stay in the shards' ``.tokens`` files and are read per example with
    ``os.pread``, so ranks and workers share them through the page cache and RSS does not grow
    with them. (Not a memory map: touching 0.1% of the examples of a 212M-token split mapped
    406 MB of file pages into RSS, the kernel mapping whole page-cache folios around each read.)"""

    def __init__(
        self,
        tasks: list[str],
        task_ids: np.ndarray,
        n_cells: np.ndarray,
        p_len: np.ndarray,
        t_len: np.ndarray,
        file_start: np.ndarray,
        starts: np.ndarray,
        files: list[str],
        dtype: str,
    ) -> None:
        self.tasks, self.task_ids, self.n_cells = tasks, task_ids, n_cells
        self.p_len, self.t_len, self.file_start, self.starts = p_len, t_len, file_start, starts
        self.files, self.dtype = files, np.dtype(dtype)
        self._lengths: np.ndarray | None = None
        self._fds: dict[int, int] = {}

    def __len__(self) -> int:
        return int(self.task_ids.size)

    def __getstate__(self) -> dict:
        skip = ("_fds", "_lengths")  # per process: open files, the derived lengths
        return {k: v for k, v in self.__dict__.items() if k not in skip} | {"_fds": {}, "_lengths": None}

    def __del__(self) -> None:
        for fd in getattr(self, "_fds", {}).values():
            os.close(fd)

    @property
    def lengths(self) -> np.ndarray:
        """int32 sequence length per example: bos + prompt + target + eos (computed once)."""
        if self._lengths is None:
            self._lengths = self.p_len.astype(np.int32) + self.t_len + 2
        return self._lengths

    def tokens(self, ex: int) -> tuple[np.ndarray, np.ndarray]:
        """(prompt ids, target ids) of example ``ex`` (int64 copies)."""
        f = int(np.searchsorted(self.file_start, ex, side="right")) - 1
        if f not in self._fds:
            self._fds[f] = os.open(self.files[f], os.O_RDONLY)
        s, p, t = int(self.starts[ex]), int(self.p_len[ex]), int(self.t_len[ex])
        size = self.dtype.itemsize
        raw = os.pread(self._fds[f], (p + t) * size, s * size)
        if len(raw) != (p + t) * size:
            raise OSError(f"{self.files[f]} is shorter than its lengths file says (truncated?). Re-run prepare.")
        seq = np.frombuffer(raw, dtype=self.dtype).astype(np.int64)
        return seq[:p], seq[p:]

    @classmethod
    def from_shards(cls, shards: ShardSet, split: str, tasks: list[str]) -> "TokenIndex":
        """Filled file by file into arrays sized from the manifest's row counts, so building it
        holds the index plus one file's lengths (not a second copy of every file's)."""
        pos = {t: i for i, t in enumerate(tasks)}
        paths = shards.files(split)
        rows = [int(shards.manifest["files"][f.name]["rows"]) for f in paths]
        total = sum(rows)
        task_ids, n_cells = np.empty(total, np.int16), np.empty(total, np.uint16)
        p_len, t_len, starts = np.empty(total, np.uint16), np.empty(total, np.uint16), np.empty(total, np.uint32)
        at, files = 0, []
        for f, r in zip(paths, rows):
            n = np.load(str(f).removesuffix(".parquet") + ".lengths.npy")
            if len(n) != r:
                raise C2SInputError(f"{f} has {len(n)} rows of lengths, its manifest says {r}. Re-run prepare.")
            within = np.cumsum(n[:, 0].astype(np.int64) + n[:, 1]) - n[:, 0] - n[:, 1]  # token offset in the file
            if r and within[-1] > np.iinfo(starts.dtype).max:
                starts = starts.astype(np.int64)
            if r and n[:, 2].max() > np.iinfo(n_cells.dtype).max:
                n_cells = n_cells.astype(np.int32)
            if r and n[:, :2].max() > np.iinfo(p_len.dtype).max:  # prompts or targets of 64k+ tokens
                p_len, t_len = p_len.astype(np.int32), t_len.astype(np.int32)
            sl = slice(at, at + r)
            task_ids[sl], n_cells[sl], p_len[sl], t_len[sl], starts[sl] = (
                pos[shards.task_of(f)],
                n[:, 2],
                n[:, 0],
                n[:, 1],
                within,
            )
            files.append(str(f).removesuffix(".parquet") + ".tokens")
            at += r
        file_start = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
        return cls(tasks, task_ids, n_cells, p_len, t_len, file_start, starts, files, shards.manifest["token_dtype"])


def collate(
    index: TokenIndex, batch: Batch, max_len: int, mode: str, pad_id: int, bos_id: int, eos_id: int, epoch: int = 0
) -> dict:
    """Build the (B, L) tensors of one batch (see module docstring)."""
    B = len(batch.packs)
    # one buffer, six (B, L) views: a loader worker hands the batch over as one shared-memory
    # block instead of six (2.3x the tokens/s with 2 workers at 100k cells, benchmarks/prepare_scale.py)
    buf = np.empty((6, B, max_len), dtype=np.int64)
    ids, labels, pos, seg, task, mask = buf
    ids[:], labels[:], pos[:], seg[:], task[:] = pad_id, -100, 0, 0, -1
    n_cells = 0
    for r, examples in enumerate(batch.packs):
        c = 0
        for s, ex in enumerate(examples, 1):
            p, t = index.tokens(ex)
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
    np.greater(seg, 0, out=mask, casting="unsafe")
    t = torch.from_numpy(buf)
    return {
        "input_ids": t[0],
        "labels": t[1],
        "position_ids": t[2],
        "segment_ids": t[3],
        "attention_mask": t[5],
        "task_ids": t[4],
        "n_examples": sum(len(p) for p in batch.packs),
        "n_tokens": int(mask.sum()),
        "n_cells": n_cells,
        "is_padding": batch.is_padding,
        "batch_index": batch.index,
        "epoch": epoch,
        "example_ids": [ex for p in batch.packs for ex in p],
    }


class PackedStream(IterableDataset):
    """Packed, batched examples of one split for one rank; splits further across DataLoader workers.

    ``epoch`` and ``skip`` (batches this rank already consumed in that epoch) are set by the
    loader before each pass; both travel to the workers with the dataset.
    """

    def __init__(
        self,
        index: TokenIndex,
        weights: np.ndarray,
        *,
        max_len: int,
        batch_size: int,
        mode: str,
        seed: int,
        rank: int,
        world_size: int,
        workers: int,
        pad_id: int,
        bos_id: int,
        eos_id: int,
        open_bins: int = 64,
        keep: np.ndarray | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.index, self.weights = index, np.asarray(weights, dtype=np.float64)
        self.max_len, self.batch_size, self.mode, self.seed = max_len, batch_size, mode, seed
        self.rank, self.world_size, self.workers = rank, world_size, max(1, workers)
        self.pad_id, self.bos_id, self.eos_id, self.open_bins = pad_id, bos_id, eos_id, open_bins
        self.keep = keep  # bool per example (None: all); the others are never drawn (too long for max_len)
        self.epoch = 0
        self.skip = 0
        self._per_rank: dict[int, int] = {}  # epoch -> batches per rank
        self._plan: tuple[int, EpochPlan] | None = None  # the last epoch planned

    def plan(self, epoch: int) -> EpochPlan:
        """All batches of ``epoch`` (every rank and worker), padding included. The last epoch's
        plan is kept (~4 bytes per example): the loader plans in the main process before its
        workers start, and forked workers share it instead of each packing again
        (1.1 us per example in Python)."""
        if self._plan is not None and self._plan[0] == epoch:
            return self._plan[1]
        self._plan = None  # the old plan is freed before the new one is built
        order = select_epoch(self.index.task_ids, self.weights, self.seed, epoch)
        if self.keep is not None:
            order = order[self.keep[order]]
        examples, starts = pack_arrays(order, self.index.lengths, self.max_len, self.open_bins)
        del order
        self._plan = (epoch, EpochPlan(examples, starts, self.batch_size, self.world_size * self.workers))
        return self._plan[1]

    def batches_per_rank(self, epoch: int) -> int:
        """Counted once per epoch: every checkpoint asks (a plan takes 6 s at 5.5M examples)."""
        if epoch not in self._per_rank:
            self._per_rank[epoch] = len(self.plan(epoch)) // self.world_size
        return self._per_rank[epoch]

    def position(self, batch_index: int) -> int:
        """0-based position of global batch ``batch_index`` in this rank's delivery order."""
        slots = self.world_size * self.workers
        return (batch_index // slots) * self.workers + (batch_index % slots) % self.workers

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info else 0
        if info and info.num_workers != self.workers:
            raise RuntimeError(
                f"PackedStream built for {self.workers} workers but the DataLoader has {info.num_workers}."
            )
        # The DataLoader reads workers round-robin from worker 0; after skipping, worker 0 must
        # serve the slot whose turn is next, so rotate the worker -> slot map by ``skip``.
        slot = (worker + self.skip) % self.workers
        plan = self.plan(self.epoch)
        mine = plan.slot(self.rank, self.world_size, slot, self.workers)
        start = consumed_per_worker(self.skip, self.workers)[slot]
        for i in mine[start:]:
            yield collate(
                self.index, plan[i], self.max_len, self.mode, self.pad_id, self.bos_id, self.eos_id, self.epoch
            )
