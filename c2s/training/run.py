"""Run one training stage: DataModule + module + Trainer, resume, export, summary.

Layout of ``<run_dir>/<stage>/``: ``checkpoints/`` (last.ckpt, Lightning), ``hf/`` (HF export),
``history.jsonl`` (train loss per step, rank 0), ``summary.json`` (written last: its presence
marks the stage done, so ``resume=auto`` skips it).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Mapping

import lightning as L
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint

from c2s.atomic import sweep_orphans, write_json_atomic, write_text_atomic
from c2s.data.datamodule import C2SDataModule, TrainedPosition
from c2s.errors import C2SInputError
from c2s.models.lm_module import CausalLMModule
from c2s.training.budget import grpo_budget, resolve_budget
from c2s.training.checkpoints import AtomicCheckpointIO, previous, resume_point
from c2s.training.export import export_hf
from c2s.training.model_card import model_card

log = logging.getLogger(__name__)


class History(Callback):
    """Append (step, loss, lr) after every optimizer step to history.jsonl (rank 0)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.is_global_zero and not batch["is_padding"]:
            lr = trainer.optimizers[0].param_groups[0]["lr"]
            record = {
                "step": trainer.global_step,
                "epoch": int(batch["epoch"]),
                "batch": batch["batch_index"],
                "loss": float(outputs["loss"]),
                "lr": lr,
                **outputs.get("history", {}),
            }
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")


def rewind_history(path: Path, step: int) -> None:
    """Drop history rows after ``step`` (the resumed run redoes them), and a half-written last line."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                keep.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    write_text_atomic(path, "".join(f"{line}\n" for line in keep))


def _strategy(s: Mapping[str, Any]):
    if s["name"] == "ddp":
        return "ddp"
    if s["name"] == "fsdp":
        from lightning.pytorch.strategies import ModelParallelStrategy

        return ModelParallelStrategy(data_parallel_size=s["devices"] * s["num_nodes"], tensor_parallel_size=1)
    return "auto"


def _lm_data(cfg, stage, shards_dir: Path, world: int, seed: int):
    dm = C2SDataModule(
        shards_dir=str(shards_dir),
        weights=stage["task_mix"]["weights"],
        default_weight=stage["task_mix"]["default_weight"],
        mode=stage["mode"],
        max_seq_len=stage["max_seq_len"],
        batch_size=stage["batch_size"],
        num_workers=cfg["num_workers"],
        seed=seed,
    )
    dm.setup()
    return dm, resolve_budget(stage, dm, world), CausalLMModule


def _grpo_data(cfg, stage, shards_dir: Path, init_from: str | None, world: int, seed: int):
    from c2s.rl.checks import check_grpo_start
    from c2s.rl.module import GRPOModule
    from c2s.rl.prompts import PromptDataModule

    dm = PromptDataModule(
        shards_dir,
        stage["task_mix"]["weights"],
        stage["task_mix"]["default_weight"],
        stage["batch_size"],
        stage["grpo"]["eval_prompts"],
        seed=seed,
        eval_seed=cfg["seed"],
    )
    check_grpo_start(init_from, dm.tokenizer)
    return dm, grpo_budget(stage, dm, world), GRPOModule


def run_stage(cfg: Mapping[str, Any], name: str, shards_dir: Path, init_from: str | None, logger) -> Path:
    """Train stage ``name`` of ``cfg`` (a resolved TrainConfig dict); return its HF export dir."""
    stage, strat = cfg["stages"][name], cfg["strategy"]
    out = Path(cfg["run_dir"]) / name
    if (out / "summary.json").exists() and cfg["resume"] == "auto" and not cfg["fast_dev_run"]:
        log.info("Stage %s already finished in %s; skipping (resume=auto).", name, out)
        return out / "hf"
    ckpt = out / "checkpoints" / "last.ckpt"
    if (ckpt.exists() or previous(ckpt).exists()) and cfg["resume"] == "never":
        raise C2SInputError(f"{out} already holds a run. Use resume=auto to continue it, or another name=.")
    seed = cfg["seed"] if stage.get("seed") is None else stage["seed"]
    L.seed_everything(seed, workers=True)
    world = strat["devices"] * strat["num_nodes"]
    grpo = stage["mode"] == "grpo"
    dm, budget, module_cls = (
        _grpo_data(cfg, stage, shards_dir, init_from, world, seed)
        if grpo
        else _lm_data(cfg, stage, shards_dir, world, seed)
    )
    module = module_cls(
        cfg["model"],
        stage,
        dm.tokenizer,
        dm.tasks,
        budget.schedule_steps,
        init_from=init_from,
        shard=strat["name"] == "fsdp",
        activation_checkpointing=strat["activation_checkpointing"],
        log_prefix=name,
        shards_dir=str(shards_dir),
    )
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [
        ModelCheckpoint(
            dirpath=out / "checkpoints", save_last=True, save_top_k=0, every_n_train_steps=stage["ckpt_every_n_steps"]
        ),
        History(out / "history.jsonl"),
        TrainedPosition(),
    ]
    if logger:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    trainer = L.Trainer(
        accelerator=strat["accelerator"],
        devices=strat["devices"],
        num_nodes=strat["num_nodes"],
        strategy=_strategy(strat),
        precision=strat["precision"],
        max_steps=budget.max_steps,
        max_epochs=budget.max_epochs,
        gradient_clip_val=stage["grad_clip"] if strat["name"] != "fsdp" and not grpo else None,  # grpo clips itself
        accumulate_grad_batches=stage["accumulate_grad_batches"],
        val_check_interval=stage["val_every_n_steps"],
        check_val_every_n_epoch=None if grpo and stage["val_every_n_steps"] else 1,  # grpo: every n batches overall
        log_every_n_steps=stage["log_every_n_steps"],
        logger=logger,
        callbacks=callbacks,
        default_root_dir=str(out),
        deterministic=strat["accelerator"] == "cpu",
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        fast_dev_run=cfg["fast_dev_run"],
        enable_model_summary=False,
        plugins=[AtomicCheckpointIO()] if strat["name"] != "fsdp" else None,  # FSDP writes sharded dirs itself
    )
    t0 = time.perf_counter()
    if trainer.is_global_zero:
        sweep_orphans(out, depth=2)  # half-written checkpoints of a killed run
    point = None if cfg["fast_dev_run"] else resume_point(ckpt, out)
    resume_from = str(point[0]) if point else None
    if point:
        log.info("Resuming stage %s from %s (step %d)", name, resume_from, point[1])
        if trainer.is_global_zero:
            rewind_history(out / "history.jsonl", point[1])
            if hasattr(getattr(logger, "experiment", None), "drop_after"):
                logger.experiment.drop_after(f"{name}/", point[1])
    else:
        (out / "history.jsonl").unlink(missing_ok=True)
        trainer.validate(module, datamodule=dm, verbose=False)  # the starting point of the val curve
        module.train()
    trainer.fit(module, datamodule=dm, ckpt_path=resume_from, weights_only=True)
    if not cfg["fast_dev_run"]:
        trainer.save_checkpoint(ckpt, weights_only=False)  # last.ckpt always holds the final state (= the export)
    if not cfg["fast_dev_run"] and (not module.val_history or module.val_history[-1]["step"] != trainer.global_step):
        trainer.validate(module, datamodule=dm, verbose=False)  # the end point, if fit stopped mid-epoch
    seconds = time.perf_counter() - t0
    counts = module.parameter_counts()  # before the export merges LoRA adapters into the base weights
    export = export_hf(
        module.model, dm.tokenizer, out / "hf", sharded=strat["name"] == "fsdp", is_global_zero=trainer.is_global_zero
    )
    if trainer.is_global_zero:
        write_json_atomic(export / "c2s_meta.json", {"shards": str(shards_dir), "stage": name, "tasks": dm.tasks})
        summary = {
            "stage": name,
            "mode": stage["mode"],
            "parameters": counts,
            "steps": int(trainer.global_step),
            "seconds": round(seconds, 1),
            "tokens_per_step": budget.tokens_per_step,
            "init_from": init_from,
            "shards": str(shards_dir),
            "val_history": module.val_history,
            "export": str(export),
        }
        write_text_atomic(export / "README.md", model_card(summary | {"stage": name}, dm.shards.manifest, cfg["name"]))
        if not cfg["fast_dev_run"]:
            write_json_atomic(out / "summary.json", summary)
        key = "reward" if grpo else "loss"
        log.info(
            "Stage %s: %d steps in %.0f s; val %s %s",
            name,
            trainer.global_step,
            seconds,
            key,
            " -> ".join(f"{r[key]:.3f}" for r in module.val_history),
        )
    trainer.strategy.barrier()
    return export
