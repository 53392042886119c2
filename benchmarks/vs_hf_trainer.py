"""Benchmark: training cells/s of c2s vs the Hugging Face Trainer on cell2sentence-style data.

    .venv/bin/python benchmarks/vs_hf_trainer.py [--steps 30]

Same cells (pbmc68k_reduced train split, cell-type annotation prompts with 100-gene
sentences), same tiny GPT-NeoX architecture and optimizer settings, CPU.
- c2s: gene-aware tokenizer (1 token/gene), examples packed into 32 × 256-token sequences
  (2 annotation examples per row, 98% non-pad), our Lightning loop.
- baseline: as cell2sentence does it — a byte-level BPE of the same vocabulary size, one example
  per row padded to the batch's longest (DataCollatorForLanguageModeling), transformers.Trainer.
The last line is the ratio of training cells/s.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings

import lightning as L
import torch
from omegaconf import OmegaConf

from c2s.config.compose import compose_config
from c2s.config.model import ModelConfig
from c2s.config.train import TrainConfig
from c2s.config.validate import from_dict
from c2s.data.datamodule import C2SDataModule
from c2s.data.prepare import prepare
from c2s.data.shards import ShardSet
from c2s.models.build import _scratch_config
from c2s.models.lm_module import CausalLMModule
from c2s.tokenizer import train_byte_bpe

warnings.filterwarnings("ignore")
logging.getLogger("lightning").setLevel(logging.ERROR)


def ours(cfg, shards_dir, steps, max_len, batch_size, mode) -> tuple[float, int]:
    stage = cfg["stages"]["pretrain"]
    dm = C2SDataModule(
        shards_dir=shards_dir,
        weights={"cell_type_annotation": 1.0},
        default_weight=0.0,
        max_seq_len=max_len,
        batch_size=batch_size,
        mode=mode,
    )
    dm.setup()
    batches = []
    while len(batches) < steps:
        batches += [b for b in dm.train_dataloader() if not b["is_padding"]]
    batches = batches[:steps]
    torch.manual_seed(0)
    module = CausalLMModule(cfg["model"], stage, dm.tokenizer, dm.tasks, total_steps=steps)
    trainer = L.Trainer(
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        accelerator="cpu",
    )
    t0 = time.perf_counter()
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    return time.perf_counter() - t0, sum(b["n_cells"] for b in batches)


def hf_trainer(cfg, rows, vocab_size, steps, batch_size, tmp) -> tuple[float, int]:
    from transformers import AutoModelForCausalLM, DataCollatorForLanguageModeling, Trainer, TrainingArguments

    tok = train_byte_bpe([t for r in rows for t in (r["prompt"], r["target"])], vocab_size=vocab_size)
    texts = [r["prompt"] + " " + r["target"] + tok.eos_token for r in rows]
    data = [{"input_ids": ids} for ids in tok(texts)["input_ids"]]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(_scratch_config(ModelConfig(**cfg["model"]), tok, "sdpa"))
    stage = cfg["stages"]["pretrain"]
    args = TrainingArguments(
        output_dir=tmp,
        per_device_train_batch_size=batch_size,
        max_steps=steps,
        learning_rate=stage["optimizer"]["lr"],
        weight_decay=stage["optimizer"]["weight_decay"],
        warmup_steps=10,
        lr_scheduler_type="cosine",
        max_grad_norm=1.0,
        logging_steps=10_000,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
        seed=0,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=data, data_collator=DataCollatorForLanguageModeling(tok, mlm=False)
    )
    t0 = time.perf_counter()
    trainer.train()
    return time.perf_counter() - t0, steps * batch_size


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--hf-batch", type=int, default=32, help="baseline rows per step")
    p.add_argument("--max-len", type=int, default=256, help="c2s packed sequence length")
    p.add_argument("--batch", type=int, default=32, help="c2s sequences per step")
    p.add_argument("--smoke", action="store_true", help="3 steps, two tasks (CI: the code paths)")
    args = p.parse_args()
    smoke = ["tasks.names=[cell_lm,cell_type_annotation]"] if args.smoke else []
    if args.smoke:
        args.steps = 3
    with tempfile.TemporaryDirectory() as tmp:
        cfg = OmegaConf.to_container(compose_config("train", [f"shards_root={tmp}/shards", *smoke]), resolve=True)
        shards = ShardSet(prepare(from_dict(TrainConfig, cfg, "config")))
        rows = [
            r
            for f in shards.files("train")
            for r in shards.read(f, ["task", "prompt", "target"]).to_pylist()
            if r["task"] == "cell_type_annotation"
        ]
        t_sft, cells_sft = ours(cfg, str(shards.path), args.steps, args.max_len, args.batch, "sft")
        t_lm, cells_lm = ours(cfg, str(shards.path), args.steps, args.max_len, args.batch, "pretrain")
        t_hf, cells_hf = hf_trainer(cfg, rows, len(shards.tokenizer()), args.steps, args.hf_batch, f"{tmp}/hf")
        hf = cells_hf / t_hf
        print(f"{len(rows)} training cells, tiny GPT-NeoX, {torch.get_num_threads()} threads, {args.steps} steps each")
        print(
            f"HF Trainer (byte BPE, padded, loss on all tokens) : {hf:7.1f} cells/s ({cells_hf} cells in {t_hf:.1f} s)"
        )
        print(
            f"c2s packed, loss on all tokens (mode=pretrain)    : {cells_lm / t_lm:7.1f} cells/s "
            f"({cells_lm} cells in {t_lm:.1f} s) = {(cells_lm / t_lm) / hf:.2f}x"
        )
        print(
            f"c2s packed, loss on the answer (mode=sft)         : {cells_sft / t_sft:7.1f} cells/s "
            f"({cells_sft} cells in {t_sft:.1f} s) = {(cells_sft / t_sft) / hf:.2f}x"
        )
        print(f"training cells/s ratio c2s (sft) / HF Trainer: {(cells_sft / t_sft) / hf:.2f}x")


if __name__ == "__main__":
    main()
