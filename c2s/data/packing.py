"""Epoch plans: which examples an epoch uses (task-mix weights), how they pack into
sequences, and which batches each (rank, worker) gets. Everything is a pure function of
(seed, epoch, lengths, config), so every worker computes the same plan independently.

Rules (documented in README "Data"):
- Task weight w is a per-task multiplier: an epoch draws round(n_task × w) examples of the task
  (w = 1: each exactly once; 2: twice; 0.5: a seeded half, different each epoch; 0: none).
- Packing: first-fit over the shuffled order into sequences of ≤ max_len tokens, with at most
  ``open_bins`` sequences open; an example longer than max_len is truncated at the end.
- Batches are dealt round-robin to the ``slots = world_size × workers`` (rank-major). When the
  batch count is not a multiple of slots, the last round is filled with *padding batches*
  (copies flagged ``is_padding``, whose labels are all masked), so every rank runs the same
  number of steps (no DDP hang) and every real example is still trained on exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


def select_epoch(task_ids: np.ndarray, weights: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """Example indices of one epoch, shuffled. ``weights[t]`` multiplies task t's examples.
    int32 while the split has fewer than 2**31 examples (half the memory of int64; same order)."""
    rng = np.random.default_rng([seed, epoch, 0])
    dtype = np.int32 if task_ids.size < 2**31 else np.int64
    chosen = []
    for t in np.unique(task_ids):
        pool = np.flatnonzero(task_ids == t).astype(dtype)
        n = int(round(pool.size * float(weights[t])))
        if n <= 0:
            continue
        reps = -(-n // pool.size)
        order = np.concatenate([rng.permutation(pool) for _ in range(reps)])
        chosen.append(order[:n])
        del pool, order
    if not chosen:
        return np.zeros(0, dtype=dtype)
    out = np.concatenate(chosen)
    del chosen
    rng.shuffle(out)  # in place: the same draws as out[rng.permutation(out.size)], no int64 copy
    return out


@numba.njit(cache=True)
def _first_fit(order, lengths, max_len, open_bins):
    pack_of = np.empty(order.size, dtype=np.int32)
    room = np.empty(open_bins + 1, dtype=np.int64)
    ids = np.empty(open_bins + 1, dtype=np.int64)
    n_open, n_packs = 0, 0
    for i in range(order.size):
        n = min(lengths[order[i]], max_len)
        j = 0
        while j < n_open and n > room[j]:
            j += 1
        if j < n_open:
            pack_of[i] = ids[j]
            room[j] -= n
        else:
            pack_of[i] = n_packs
            room[n_open], ids[n_open] = max_len - n, n_packs
            n_open += 1
            n_packs += 1
            if n_open > open_bins:  # close the fullest pack (first of equals)
                j = np.argmin(room[:n_open])
                room[j : n_open - 1], ids[j : n_open - 1] = room[j + 1 : n_open].copy(), ids[j + 1 : n_open].copy()
                n_open -= 1
        k = 0
        for j in range(n_open):  # drop full packs, keeping order
            if room[j] != 0:
                room[k], ids[k] = room[j], ids[j]
                k += 1
        n_open = k
    return pack_of, n_packs


@numba.njit(cache=True)
def _group(order, pack_of, n_packs):
    """Counting sort of ``order`` by pack id, stable: (examples grouped by pack, pack offsets)."""
    starts = np.zeros(n_packs + 1, dtype=np.int64)
    for i in range(pack_of.size):
        starts[pack_of[i] + 1] += 1
    for p in range(n_packs):
        starts[p + 1] += starts[p]
    at = starts[:-1].copy()
    out = np.empty_like(order)
    for i in range(order.size):
        out[at[pack_of[i]]] = order[i]
        at[pack_of[i]] += 1
    return out, starts


def pack_arrays(
    order: np.ndarray, lengths: np.ndarray, max_len: int, open_bins: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """First-fit packing of ``order`` (example ids) into sequences of at most ``max_len`` tokens
    (numba: O(examples × open_bins)). Returns (examples (E,) grouped by pack, in pack order and
    within a pack in ``order``'s order, ``order``'s dtype; starts (P+1,) int64 offsets of each
    pack in ``examples``). Memory: ``order`` plus 8 bytes per example (int32 ids)."""
    order = np.asarray(order)
    if order.dtype not in (np.int32, np.int64):
        order = order.astype(np.int64)
    if order.size == 0:
        return order, np.zeros(1, dtype=np.int64)
    pack_of, n_packs = _first_fit(order, np.asarray(lengths), int(max_len), int(open_bins))
    return _group(order, pack_of, n_packs)


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
