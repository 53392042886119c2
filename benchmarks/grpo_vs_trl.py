"""Benchmark: GRPO step time of c2s vs TRL's GRPOTrainer, same model, data, G, lengths, reward.

    .venv/bin/python benchmarks/grpo_vs_trl.py [--steps 12] [--group 8] [--prompts 8] [--tokens 16]

Both start from the same tiny GPT-NeoX (random init from our config, so EOS is rare and both
sample the full ``--tokens`` per completion), on pbmc68k_reduced cell-type annotation prompts,
``--prompts`` prompts × G completions per optimizer step, temperature 1, top_p 1, β = 0,
"grpo" aggregation, std-scaled advantages, reward ``c2s.rewards.label_match`` (passed to TRL
unchanged: a reward is a plain callable). CPU, float32. Step time = median wall time between
optimizer steps after 2 warm-up steps. The last line is c2s / TRL (below 1: c2s is faster).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings

import lightning as L
from omegaconf import OmegaConf

from c2s.config.compose import compose_config
from c2s.config.model import ModelConfig
from c2s.config.train import TrainConfig
from c2s.config.validate import from_dict
from c2s.data.prepare import prepare
from c2s.models.build import build_model
from c2s.rewards import label_match
from c2s.rl.module import GRPOModule
from c2s.rl.prompts import PromptDataModule

warnings.filterwarnings("ignore")
logging.getLogger("lightning").setLevel(logging.ERROR)


class StepTimes(L.Callback):
    def __init__(self) -> None:
        self.t: list[float] = []

    def on_train_batch_end(self, *args) -> None:
        self.t.append(time.perf_counter())


def median_step(times: list[float]) -> float:
    return statistics.median(b - a for a, b in zip(times[2:], times[3:]))


def ours(cfg: dict, stage: dict, shards: str, export: str, steps: int) -> tuple[float, float]:
    dm = PromptDataModule(shards, {"cell_type_annotation": 1.0}, 0.0, stage["batch_size"], 8, seed=0)
    module = GRPOModule(cfg["model"], stage, dm.tokenizer, dm.tasks, steps, init_from=export, shards_dir=shards)
    timer = StepTimes()
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=dm)
    return median_step(timer.t), float(trainer.callback_metrics["train/completion_length"])


def trl(stage: dict, shards: str, export: str, steps: int, out: str) -> tuple[float, float]:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    g = stage["grpo"]
    dm = PromptDataModule(shards, {"cell_type_annotation": 1.0}, 0.0, stage["batch_size"], 8, seed=0)
    rows = dm.train_rows
    ds = Dataset.from_dict({"prompt": [r["prompt"] for r in rows], "label": [r["target"] for r in rows]})
    tok = AutoTokenizer.from_pretrained(export)
    times: list[float] = []
    lengths: list[float] = []

    class Timer(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter())

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "completions/mean_length" in logs:
                lengths.append(logs["completions/mean_length"])

    args = GRPOConfig(
        output_dir=out,
        max_steps=steps,
        per_device_train_batch_size=stage["batch_size"] * g["group_size"],
        num_generations=g["group_size"],
        steps_per_generation=1,
        max_completion_length=g["max_new_tokens"],
        temperature=g["temperature"],
        top_p=g["top_p"],
        top_k=0,
        beta=0.0,
        epsilon=g["eps_low"],
        epsilon_high=g["eps_high"],
        loss_type="grpo",
        scale_rewards="group",
        num_iterations=1,
        learning_rate=stage["optimizer"]["lr"],
        lr_scheduler_type="constant",
        max_grad_norm=stage["grad_clip"],
        use_cpu=True,
        bf16=False,
        fp16=False,
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        disable_dropout=True,
        seed=0,
        dataloader_num_workers=0,
    )
    model = AutoModelForCausalLM.from_pretrained(export)
    trainer = GRPOTrainer(
        model=model, reward_funcs=label_match, args=args, train_dataset=ds, processing_class=tok, callbacks=[Timer()]
    )
    trainer.train()
    return median_step(times), statistics.mean(lengths) if lengths else float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--tokens", type=int, default=16)
    p.add_argument("--smoke", action="store_true", help="4 steps of 2 prompts (CI: the code paths)")
    a = p.parse_args()
    if a.smoke:
        a.steps, a.prompts, a.group = 4, 2, 4  # the median skips the first two steps
    try:
        import trl  # noqa: F401
    except ImportError:
        trl_missing = True
    else:
        trl_missing = False
    with tempfile.TemporaryDirectory() as tmp:
        cfg = OmegaConf.to_container(
            compose_config(
                "train",
                [
                    f"shards_root={tmp}/shards",
                    "+stage@stages.grpo=grpo",
                    "run_stages=[grpo]",
                    f"init_from={tmp}/init",
                    f"stages.grpo.batch_size={a.prompts}",
                    f"stages.grpo.grpo.group_size={a.group}",
                    f"stages.grpo.grpo.max_new_tokens={a.tokens}",
                    *(["tasks.names=[cell_type_annotation]"] if a.smoke else []),
                ],
            ),
            resolve=True,
        )
        shards = str(prepare(from_dict(TrainConfig, cfg, "config")))
        stage = cfg["stages"]["grpo"]
        from c2s.data.shards import ShardSet

        tokenizer = ShardSet(shards).tokenizer()
        L.seed_everything(0)
        model = build_model(ModelConfig(**cfg["model"]), tokenizer)  # the same random-init tiny model for both
        model.save_pretrained(f"{tmp}/init")
        tokenizer.save_pretrained(f"{tmp}/init")
        L.seed_everything(0)
        t_ours, len_ours = ours(cfg, stage, shards, f"{tmp}/init", a.steps)
        if trl_missing:
            print(f"c2s GRPOModule : {t_ours * 1000:8.1f} ms/step, mean completion length {len_ours:.1f}")
            print("step time c2s / TRL: TRL not installed (make bench installs it), baseline skipped")
            return
        L.seed_everything(0)
        t_trl, len_trl = trl(stage, shards, f"{tmp}/init", a.steps, f"{tmp}/trl")
    n = a.prompts * a.group
    print(f"{n} completions/step ({a.prompts} prompts × G={a.group}), max {a.tokens} new tokens, {a.steps} steps")
    print(f"c2s GRPOModule : {t_ours * 1000:8.1f} ms/step, mean completion length {len_ours:.1f}")
    print(f"TRL GRPOTrainer: {t_trl * 1000:8.1f} ms/step, mean completion length {len_trl:.1f}")
    print(f"step time c2s / TRL = {t_ours / t_trl:.3f}")


if __name__ == "__main__":
    main()
