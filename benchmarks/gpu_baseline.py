"""The baseline of benchmarks/gpu_train.py: a plain PyTorch loop on the same model built with SDPA (eager
for Gemma-2), unpacked examples right-padded to the longest in the batch, HF's own loss, bf16 autocast, AdamW."""

from __future__ import annotations

import time

import numpy as np
import torch
from gpu_flops import DEVICE, attention_flops, flops_per_token, reset_peak, sync


def padded_batches(index, order: np.ndarray, slots: int, max_len: int):
    """Consecutive examples of ``order``, as many per batch as fit in ``slots`` padded tokens."""
    lengths = np.minimum(index.lengths, max_len)
    batch, longest = [], 0
    for ex in order:
        n = int(lengths[ex])
        if batch and (len(batch) + 1) * max(longest, n) > slots:
            yield batch
            batch, longest = [], 0
        batch.append(int(ex))
        longest = max(longest, n)
    if batch:
        yield batch


def run_base(m: dict, data, seq: int, rows: int, steps: int, warmup: int) -> dict:
    from c2s.config.model import ModelConfig
    from c2s.data.packing import select_epoch
    from c2s.models.build import build_model

    tok, tasks, index = data
    model = build_model(ModelConfig(**m), tok, device_type=DEVICE, packed=False).to(DEVICE).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01, betas=(0.9, 0.95))
    stats = {"tokens": 0, "attn": 0.0, "losses": [], "padded_slots": 0}
    bos, eos, pad = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id

    def batches():
        epoch = 0
        while True:
            yield from padded_batches(
                index, select_epoch(index.task_ids, np.ones(len(tasks)), 0, epoch), rows * seq, seq
            )
            epoch += 1

    reset_peak()
    for i, batch in zip(range(warmup + steps), batches()):
        seqs = [np.concatenate([[bos], *index.tokens(ex), [eos]])[:seq] for ex in batch]
        width = max(s.size for s in seqs)
        ids = np.full((len(seqs), width), pad, np.int64)
        mask = np.zeros((len(seqs), width), np.int64)
        for r, s in enumerate(seqs):
            ids[r, : s.size], mask[r, : s.size] = s, 1
        ids_t, mask_t = torch.from_numpy(ids).to(DEVICE), torch.from_numpy(mask).to(DEVICE)
        labels = ids_t.masked_fill(mask_t == 0, -100)
        if i == warmup:
            sync()
            t0 = time.perf_counter()
        if i >= warmup:
            lengths = np.array([s.size for s in seqs])
            stats["tokens"] += int(lengths.sum())
            stats["padded_slots"] += int(ids.size)
            stats["attn"] += attention_flops(model.config, lengths)
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loss = model(input_ids=ids_t, attention_mask=mask_t, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i % 10 == 0:
            stats["losses"].append(round(float(loss), 4))
    sync()
    stats["seconds"] = time.perf_counter() - t0
    stats["flops_per_token"] = flops_per_token(model)
    stats["attn_impl"] = model.config._attn_implementation
    return stats
