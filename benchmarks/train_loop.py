"""Benchmark: our Lightning training loop vs a bare PyTorch loop on the same batches.

    .venv/bin/python benchmarks/train_loop.py [--steps 40] [--repeats 3]

Both train the tiny model (configs/model/tiny.yaml) from the same seed with AdamW, the same
warm-up/cosine schedule and gradient clipping, on the same pre-collated packed batches of the
pbmc68k_reduced shards. Median wall time over repeats; the last line is the throughput ratio.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings

import lightning as L
import torch
from omegaconf import OmegaConf

from c2s.config.compose import compose_config
from c2s.config.train import TrainConfig
from c2s.config.validate import from_dict
from c2s.data.datamodule import C2SDataModule
from c2s.data.prepare import prepare
from c2s.models.decoder_module import warmup_cosine
from c2s.models.lm_module import CausalLMModule, token_losses

warnings.filterwarnings("ignore")
logging.getLogger("lightning").setLevel(logging.ERROR)


def lightning_loop(cfg, dm, batches, steps) -> float:
    stage = cfg["stages"]["pretrain"]
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
        gradient_clip_val=stage["grad_clip"],
        accelerator="cpu",
        devices=1,
    )
    loader = torch.utils.data.DataLoader(batches, batch_size=None)
    t0 = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader)
    return time.perf_counter() - t0


def bare_loop(cfg, dm, batches, steps) -> float:
    stage = cfg["stages"]["pretrain"]
    torch.manual_seed(0)
    module = CausalLMModule(cfg["model"], stage, dm.tokenizer, dm.tasks, total_steps=steps)
    module.configure_model()
    model = module.model.train()
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=stage["optimizer"]["lr"],
        betas=stage["optimizer"]["betas"],
        weight_decay=stage["optimizer"]["weight_decay"],
    )
    sch = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, 10, steps, 0.1))
    t0 = time.perf_counter()
    for batch in batches[:steps]:
        ce, mask = token_losses(model, batch)
        loss = ce.sum() / mask.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), stage["grad_clip"])
        opt.step()
        sch.step()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--smoke", action="store_true", help="4 steps once, two tasks (CI: the code paths)")
    args = p.parse_args()
    smoke = ["tasks.names=[cell_lm,cell_type_annotation]"] if args.smoke else []
    if args.smoke:
        args.steps, args.repeats = 4, 1
    with tempfile.TemporaryDirectory() as tmp:
        cfg = OmegaConf.to_container(compose_config("train", [f"shards_root={tmp}", *smoke]), resolve=True)
        stage = cfg["stages"]["pretrain"]
        dm = C2SDataModule(
            shards_dir=str(prepare(from_dict(TrainConfig, cfg, "config"))),
            max_seq_len=stage["max_seq_len"],
            batch_size=stage["batch_size"],
        )
        dm.setup()
        batches = []
        loader = dm.train_dataloader()
        while len(batches) < args.steps:
            batches += [b for b in loader if not b["is_padding"]]
        batches = batches[: args.steps]
        tokens = sum(int(b["attention_mask"].sum()) for b in batches)
        print(
            f"{args.steps} steps of {stage['batch_size']} x {stage['max_seq_len']} tokens "
            f"({tokens / args.steps:.0f} non-pad tokens/step), tiny model, {torch.get_num_threads()} threads"
        )
        t_l, t_b = [], []
        for _ in range(args.repeats):  # alternate, so drift hits both
            t_b.append(bare_loop(cfg, dm, batches, args.steps))
            t_l.append(lightning_loop(cfg, dm, batches, args.steps))
        bare, light = statistics.median(t_b), statistics.median(t_l)
        print(
            f"bare PyTorch loop : {bare:6.2f} s  {tokens / bare:8.0f} tokens/s  "
            f"(runs: {', '.join(f'{t:.2f}' for t in t_b)})"
        )
        print(
            f"Lightning loop    : {light:6.2f} s  {tokens / light:8.0f} tokens/s  "
            f"(runs: {', '.join(f'{t:.2f}' for t in t_l)})"
        )
        print(f"throughput ratio Lightning / bare: {bare / light:.3f}")


if __name__ == "__main__":
    main()
