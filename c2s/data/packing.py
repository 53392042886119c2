"""Epoch plans: which examples an epoch uses (task-mix weights), how they pack into
sequences, and which batches each (rank, worker) gets. Everything is a pure function of
(seed, epoch, lengths, config), so every worker computes the same plan independently.

Rules (documented in README "Data"):
- Task weight w is a per-task multiplier: an epoch draws round(n_task × w) examples of the task
  (w = 1: each exactly once; 2: twice; 0.5: a seeded half, different each epoch; 0: none).
- Packing: first-fit over the shuffled order into sequences of ≤ max_len tokens, with at most
  ``open_bins`` sequences open; an example longer than max_len is truncated at the end (the DataModule leaves
  such examples out, or refuses them: none reaches here from training).
- Batches are dealt round-robin to the ``slots = world_size × workers`` (rank-major). When the
  batch count is not a multiple of slots, the last round is filled with *padding batches*
  (copies flagged ``is_padding``, whose labels are all masked), so every rank runs the same
  number of steps (no DDP hang) and every real example is still trained on exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def select_epoch(task_ids: np.ndarray, weights: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """Example indices of one epoch, shuffled. ``weights[t]`` multiplies task t's examples.
    int32 while the split has fewer than 2**31 examples (half the memory of int64), filled into
    one array sized up front (no per-task copies concatenated; the same draws and order)."""
    rng = np.random.default_rng([seed, epoch, 0])
    dtype = np.int32 if task_ids.size < 2**31 else np.int64
    tasks, sizes = np.unique(task_ids, return_counts=True)
    draws = [int(round(int(k) * float(weights[t]))) for t, k in zip(tasks, sizes)]
    out = np.empty(sum(max(d, 0) for d in draws), dtype=dtype)
    at = 0
    for t, n in zip(tasks, draws):
        if n <= 0:
            continue
        pool = np.flatnonzero(task_ids == t).astype(dtype)
        for _ in range(-(-n // pool.size)):  # whole permutations, the last one cut
            take = min(pool.size, n)
            out[at : at + take] = rng.permutation(pool)[:take]
            at, n = at + take, n - take
        del pool
    rng.shuffle(out)  # in place: the same draws as out[rng.permutation(out.size)], no int64 copy
    return out


def _first_fit(order: np.ndarray, lengths: np.ndarray, max_len: int, open_bins: int, chunk: int = 1 << 16):
    """Per position of ``order``: its pack id and its place within that pack (int32 each), and
    the pack count. Plain Python (1-2 us per example, ~0.6 s per 555k): numba ran it 1.5-14x
    faster but cost every stream process and loader worker ~80 MB of RSS for LLVM, more than
    the whole data index at 100M tokens."""
    pack_of, within = np.empty(order.size, np.int32), np.empty(order.size, np.int32)
    room: list[int] = []  # open packs in opening order: tokens left, pack id, examples so far
    ids: list[int] = []
    size: list[int] = []
    n_packs = 0
    for a in range(0, order.size, chunk):  # lengths as Python ints a chunk at a time (bounded)
        got_pack, got_within = [], []
        for n in np.minimum(lengths[order[a : a + chunk]], max_len).tolist():
            j = 0
            for r in room:  # first fit
                if n <= r:
                    break
                j += 1
            if j < len(room):
                got_pack.append(ids[j])
                got_within.append(size[j])
                r = room[j] - n
                if r:
                    room[j], size[j] = r, size[j] + 1
                else:  # full: closed
                    del room[j], ids[j], size[j]
            else:
                got_pack.append(n_packs)
                got_within.append(0)
                if n < max_len:
                    room.append(max_len - n)
                    ids.append(n_packs)
                    size.append(1)
                    if len(room) > open_bins:  # close the fullest pack (first of equals)
                        j = room.index(min(room))
                        del room[j], ids[j], size[j]
                n_packs += 1
        pack_of[a : a + len(got_pack)], within[a : a + len(got_pack)] = got_pack, got_within
    return pack_of, within, n_packs


def pack_arrays(
    order: np.ndarray, lengths: np.ndarray, max_len: int, open_bins: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """First-fit packing of ``order`` (example ids) into sequences of at most ``max_len`` tokens
    (O(examples × open_bins)). Returns (examples (E,) grouped by pack, in pack order and
    within a pack in ``order``'s order, ``order``'s dtype; starts (P+1,) int64 offsets of each
    pack in ``examples``). Memory: ``order`` plus 12 bytes per example while grouping."""
    order = np.asarray(order)
    if order.dtype not in (np.int32, np.int64):
        order = order.astype(np.int64)
    if order.size == 0:
        return order, np.zeros(1, dtype=np.int64)
    pack_of, within, n_packs = _first_fit(order, np.asarray(lengths), int(max_len), int(open_bins))
    starts = np.zeros(n_packs + 1, dtype=np.int64)
    np.cumsum(np.bincount(pack_of, minlength=n_packs), out=starts[1:])
    examples, c = np.empty_like(order), 1 << 16
    for a in range(0, order.size, c):  # a stable counting sort by pack, a chunk at a time
        examples[starts[pack_of[a : a + c]] + within[a : a + c]] = order[a : a + c]
    return examples, starts


def pack(order: np.ndarray, lengths: np.ndarray, max_len: int, open_bins: int = 64) -> list[list[int]]:
    """``pack_arrays`` as lists of example ids per sequence (for small inputs and tests)."""
    examples, starts = pack_arrays(order, lengths, max_len, open_bins)
    return [examples[a:b].tolist() for a, b in zip(starts[:-1], starts[1:])]


@dataclass(frozen=True)
class Batch:
    index: int  # position in the epoch's batch list
    packs: tuple[tuple[int, ...], ...]  # example ids per sequence
    is_padding: bool = False


class EpochPlan:
    """The batches of one epoch as arrays (~4 bytes per example), each ``Batch`` built when asked.
    The batch count is padded to a multiple of ``slots`` with flagged copies of batches 0, 1, …"""

    def __init__(self, examples: np.ndarray, starts: np.ndarray, batch_size: int, slots: int) -> None:
        self.examples, self.starts, self.batch_size = examples, starts, batch_size
        n_packs = starts.size - 1
        self.n_real = -(-n_packs // batch_size)
        self.n_total = self.n_real + ((-self.n_real) % slots if self.n_real else 0)

    def __len__(self) -> int:
        return self.n_total

    def __getitem__(self, i: int) -> Batch:
        if not 0 <= i < self.n_total:
            raise IndexError(i)
        r = i if i < self.n_real else (i - self.n_real) % self.n_real
        p0, p1 = r * self.batch_size, min((r + 1) * self.batch_size, self.starts.size - 1)
        packs = tuple(tuple(self.examples[self.starts[p] : self.starts[p + 1]].tolist()) for p in range(p0, p1))
        return Batch(i, packs, is_padding=i >= self.n_real)

    def slot(self, rank: int, world_size: int, worker: int, workers: int) -> range:
        """Indices of the batches of one (rank, worker): every ``slots``-th, rank-major."""
        return range(rank * workers + worker, self.n_total, world_size * workers)


def consumed_per_worker(consumed: int, workers: int) -> list[int]:
    """Batches each worker has delivered after ``consumed`` batches from a DataLoader that
    reads its workers round-robin (PyTorch's in-order default; all workers hold equal counts)."""
    return [consumed // workers + (1 if w < consumed % workers else 0) for w in range(workers)]
