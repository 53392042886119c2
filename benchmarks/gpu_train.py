"""GPU training throughput: c2s's CausalLMModule against a plain padded SDPA loop, same model and data.

    python benchmarks/gpu_train.py --shards outputs/gpu/shards/<dir> \
        --runs pythia-410m:2048:16,pythia-410m:2048:16:base [--steps 30 --warmup 8] [--json out.json]

A run is ``model:seq_len:rows[:variant[+variant]]``:
- (none) c2s: the real CausalLMModule under a Lightning Trainer (bf16-mixed), packed rows from the
  shards' PackedStream, attention as configured (``auto`` = flex_attention on CUDA);
- ``sdpa``: c2s with SDPA and transformers' dense block-diagonal mask (the path before flex);
- ``nocompile`` / ``compile``: without / with torch.compile per decoder block (default: with);
- ``ac``: activation checkpointing (``model.gradient_checkpointing=true``);
- ``nochunk`` / ``chunk``: the LM-head loss in one piece / in chunks of 2**28 logits (recomputed
  in the backward pass); by default as the model config says (Gemma-2: chunks);
- ``prof``: also print torch.profiler's top CUDA kernels over 3 steps after warm-up (slower run);
- ``base``: the baseline, a plain PyTorch loop on the same model built with SDPA (eager for
  Gemma-2): unpacked examples right-padded to the longest in the batch, as many as fit in
  ``rows × seq_len`` padded slots, HF's own loss, torch.autocast bf16, AdamW (foreach, as in c2s).
Models are built from configs/model/*.yaml with random weights and the released vocabulary size
(``--vocab real``: 50,304 Pythia, 256,000 Gemma-2) unless ``--vocab tokenizer``.

MFU = (6·N·D + attention) / time / 989e12. 989 TFLOP/s is the H100 SXM dense bf16 peak (the
measured 8k³ bf16 matmul here is ~798). N counts parameters used in matmuls (all but an untied
input embedding); D counts non-pad tokens; attention = 12 · heads · head_dim · layers · causal
(query, key) pairs of each example (window-capped on Gemma-2's sliding layers), forward + backward.
Recomputation under activation checkpointing is not counted. The ratio (c2s / base, useful tokens/s)
is printed last.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from gpu_baseline import run_base
from gpu_flops import DEVICE, PEAK, attention_flops, flops_per_token, reset_peak, segment_lengths, sync

ROOT = Path(__file__).resolve().parents[1]
REAL_VOCAB = {"gpt_neox": 50304, "gemma2": 256000}


def model_config(name: str, vocab: str, variants: set[str]) -> dict:
    import dataclasses

    from c2s.config.model import ModelConfig

    m = dataclasses.asdict(ModelConfig(**yaml.safe_load((ROOT / "configs" / "model" / f"{name}.yaml").read_text())))
    if vocab == "real":
        m["vocab_size"] = REAL_VOCAB[m["arch"]]
    if "sdpa" in variants:
        m["attn_implementation"] = "sdpa" if m["arch"] == "gpt_neox" else "eager"
    m["gradient_checkpointing"] = "ac" in variants or (m["gradient_checkpointing"] and "noac" not in variants)
    m["dtype"] = "float32" if m["arch"] == "gpt_neox" else m["dtype"]
    m["logits_chunk"] = None if "nochunk" in variants else (2**28 if "chunk" in variants else m["logits_chunk"])
    m["compile"] = "compile" in variants or (m["compile"] and "nocompile" not in variants)
    return m


class Looped(torch.utils.data.IterableDataset):
    """Epoch after epoch of a PackedStream, each batch tagged with its useful tokens and lengths."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def __iter__(self):
        epoch = 0
        while True:
            self.stream.epoch, self.stream.skip = epoch, 0
            for b in self.stream:
                lengths = segment_lengths(b["segment_ids"].numpy())
                b["bench_tokens"], b["bench_lengths"] = (
                    int(lengths.sum()),
                    lengths.tolist(),
                )  # a list: the loader would make an array a tensor
                b.pop("example_ids")
                yield b
            epoch += 1


def load_data(shards_dir: str):
    from c2s.data.shards import ShardSet
    from c2s.data.stream import TokenIndex

    shards = ShardSet(shards_dir, verify=False)
    tasks = sorted({t for split in shards.manifest["counts"].values() for t in split})
    return shards.tokenizer(), tasks, TokenIndex.from_shards(shards, "train", tasks)


def run_c2s(m: dict, data, seq: int, rows: int, steps: int, warmup: int, workers: int, profile: bool) -> dict:
    import lightning as L
    from lightning.pytorch.callbacks import Callback

    from c2s.data.stream import PackedStream
    from c2s.models.lm_module import CausalLMModule

    tok, tasks, index = data
    stream = PackedStream(
        index,
        np.ones(len(tasks)),
        max_len=seq,
        batch_size=rows,
        mode="pretrain",
        seed=0,
        rank=0,
        world_size=1,
        workers=max(1, workers),
        pad_id=tok.pad_token_id,
        bos_id=tok.bos_token_id,
        eos_id=tok.eos_token_id,
    )
    stage = {
        "mode": "pretrain",
        "lora": {"enabled": False},
        "grad_clip": 1.0,
        "optimizer": {
            "_target_": "torch.optim.AdamW",
            "_partial_": True,
            "lr": 3e-4,
            "weight_decay": 0.01,
            "betas": [0.9, 0.95],
        },
        "scheduler": {"warmup_steps": warmup, "min_lr_ratio": 0.1},
    }
    module = CausalLMModule(model=m, stage=stage, tokenizer=tok, tasks=tasks, total_steps=steps + warmup)
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if DEVICE == "cuda" else [])
    prof = torch.profiler.profile(activities=acts) if profile else None
    stats = {"tokens": 0, "attn": 0.0, "losses": []}

    class Timer(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, idx):
            if idx == warmup:
                sync()
                stats["t0"] = time.perf_counter()
                if prof:
                    prof.start()
            if idx >= warmup:
                stats["tokens"] += batch["bench_tokens"]
                stats["attn"] += attention_flops(pl_module.model.config, batch["bench_lengths"])

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, idx):
            if prof and idx == warmup + 2:
                prof.stop()
                print(
                    prof.key_averages().table(
                        sort_by=f"self_{DEVICE}_time_total", row_limit=22, max_name_column_width=60
                    )
                )
            if idx == warmup + steps - 1:
                sync()
                stats["seconds"] = time.perf_counter() - stats["t0"]
            if idx % 10 == 0 or idx == warmup + steps - 1:
                stats["losses"].append(round(float(outputs["loss"]), 4))

    loader = torch.utils.data.DataLoader(
        Looped(stream), batch_size=None, num_workers=workers, pin_memory=True, persistent_workers=False
    )
    trainer = L.Trainer(
        accelerator=DEVICE,
        devices=1,
        precision="bf16-mixed",
        max_steps=warmup + steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=1.0,
        callbacks=[Timer()],
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    reset_peak()
    trainer.fit(module, train_dataloaders=loader)
    stats["flops_per_token"] = flops_per_token(module.model)
    stats["attn_impl"] = module.model.config._attn_implementation
    return stats


def one_run(spec: str, data, args) -> dict:
    name, seq, rows, *rest = spec.split(":")
    variants = set(rest[0].split("+")) if rest else set()
    seq, rows = int(seq), int(rows)
    m = model_config(name, args.vocab, variants)
    t = time.perf_counter()
    if "base" in variants:
        s = run_base(m, data, seq, rows, args.steps, args.warmup)
    else:
        s = run_c2s(m, data, seq, rows, args.steps, args.warmup, args.workers, "prof" in variants)
    tps = s["tokens"] / s["seconds"]
    mfu = (s["flops_per_token"] * s["tokens"] + s["attn"]) / s["seconds"] / PEAK
    out = {
        "run": spec,
        "model": name,
        "seq_len": seq,
        "rows": rows,
        "variants": sorted(variants),
        "attn": s["attn_impl"],
        "useful_tokens_per_s": round(tps),
        "mfu": round(mfu, 4),
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30 if DEVICE == "cuda" else 0, 2),
        "params_x6": s["flops_per_token"],
        "attn_flop_share": round(s["attn"] / (s["flops_per_token"] * s["tokens"] + s["attn"]), 4),
        "wall_s": round(time.perf_counter() - t, 1),
        "losses": s["losses"],
    }
    if "padded_slots" in s:
        out["pad_fraction"] = round(1 - s["tokens"] / s["padded_slots"], 3)
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", required=True)
    ap.add_argument("--runs", default="pythia-410m:2048:16,pythia-410m:2048:16:base")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers for the c2s runs")
    ap.add_argument("--vocab", choices=["real", "tokenizer"], default="real")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    data = load_data(args.shards)
    results = []
    for spec in args.runs.split(","):
        try:
            results.append(one_run(spec, data, args))
        except torch.OutOfMemoryError as exc:
            print(json.dumps({"run": spec, "error": f"out of memory: {str(exc)[:200]}"}), flush=True)
            results.append({"run": spec, "error": "oom"})
        if DEVICE == "cuda":
            torch.cuda.empty_cache()
        if args.json:  # after every run: a run cut off by a time limit keeps the others
            Path(args.json).write_text(
                json.dumps(
                    {
                        "device": torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu",
                        "torch": torch.__version__,
                        "results": results,
                    },
                    indent=1,
                )
            )
    print(f"\n{'run':38} {'attn':15} {'tok/s':>10} {'MFU':>6} {'mem GiB':>8}")
    for r in results:
        if "error" not in r:
            print(
                f"{r['run']:38} {r['attn']:15} {r['useful_tokens_per_s']:>10,} {r['mfu']:>6.3f} "
                f"{r['peak_mem_gib']:>8.1f}"
            )
    by = {r["run"]: r for r in results if "error" not in r}
    for r in results:
        base = by.get(f"{r['run'].split(':')[0]}:{r['run'].split(':')[1]}:{r['run'].split(':')[2]}:base")
        if "error" not in r and "base" not in r["variants"] and base:
            print(
                f"{r['run']}: {r['useful_tokens_per_s'] / base['useful_tokens_per_s']:.2f}x the padded SDPA baseline "
                "(useful tokens/s)"
            )


if __name__ == "__main__":
    main()
