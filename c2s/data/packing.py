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

import numpy as np


def select_epoch(task_ids: np.ndarray, weights: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """Example indices of one epoch, shuffled. ``weights[t]`` multiplies task t's examples."""
    rng = np.random.default_rng([seed, epoch, 0])
    chosen = []
    for t in np.unique(task_ids):
        pool = np.flatnonzero(task_ids == t)
        n = int(round(pool.size * float(weights[t])))
        if n <= 0:
            continue
        reps = -(-n // pool.size)
        order = np.concatenate([rng.permutation(pool) for _ in range(reps)])
        chosen.append(order[:n])
    if not chosen:
        return np.zeros(0, dtype=np.int64)
    out = np.concatenate(chosen)
    return out[rng.permutation(out.size)]


def pack(order: np.ndarray, lengths: np.ndarray, max_len: int, open_bins: int = 64) -> list[list[int]]:
    """First-fit packing of ``order`` (example ids) into sequences of at most ``max_len`` tokens."""
    packs: list[list[int]] = []
    room: list[int] = []  # free tokens of the open packs (indices into packs via open_ids)
    open_ids: list[int] = []
    for ex in order.tolist():
        n = min(int(lengths[ex]), max_len)
        for j, free in enumerate(room):
            if n <= free:
                packs[open_ids[j]].append(ex)
                room[j] -= n
                break
        else:
            packs.append([ex])
            open_ids.append(len(packs) - 1)
            room.append(max_len - n)
            if len(room) > open_bins:  # close the fullest pack
                j = int(np.argmin(room))
                del room[j], open_ids[j]
        full = [j for j, free in enumerate(room) if free == 0]
        for j in reversed(full):
            del room[j], open_ids[j]
    return packs


@dataclass(frozen=True)
class Batch:
    index: int  # position in the epoch's batch list
    packs: tuple[tuple[int, ...], ...]  # example ids per sequence
    is_padding: bool = False


def plan_batches(packs: list[list[int]], batch_size: int, slots: int) -> list[Batch]:
    """Group packs into batches; pad the list to a multiple of ``slots`` with flagged copies."""
    batches = [
        Batch(i, tuple(tuple(p) for p in packs[s : s + batch_size]))
        for i, s in enumerate(range(0, len(packs), batch_size))
    ]
    n_real = len(batches)
    for j in range((-n_real) % slots if n_real else 0):
        batches.append(Batch(n_real + j, batches[j % n_real].packs, is_padding=True))
    return batches


def slot_batches(batches: list[Batch], rank: int, world_size: int, worker: int, workers: int) -> list[Batch]:
    """The batches of one (rank, worker): every ``slots``-th batch, rank-major."""
    slots = world_size * workers
    return batches[rank * workers + worker :: slots]


def consumed_per_worker(consumed: int, workers: int) -> list[int]:
    """Batches each worker has delivered after ``consumed`` batches from a DataLoader that
    reads its workers round-robin (PyTorch's in-order default; all workers hold equal counts)."""
    return [consumed // workers + (1 if w < consumed % workers else 0) for w in range(workers)]
