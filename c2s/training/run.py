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

import lightning as L
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint

from c2s.atomic import sweep_orphans, write_json_atomic, write_text_atomic
from c2s.config.train import TrainConfig
from c2s.data.datamodule import TrainedPosition
from c2s.errors import C2SInputError
from c2s.training.checkpoints import AtomicCheckpointIO, previous, resume_point
from c2s.training.export import export_hf
from c2s.training.model_card import model_card
from c2s.training.recipes import RECIPES
from c2s.training.signals import GracefulStop
from c2s.training.strategies import STRATEGIES

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


def _coverage(cfg: TrainConfig, shards_dir: Path, init_from: str | None, tokenizer):
    """Fine-tuning trained weights (``init_from``, a pretrained model): how many of the shards' genes its tokenizer
    knows, logged (a warning when few) before any step; None when the model starts from scratch."""
    if not init_from and cfg.model.init != "pretrained":
        return None
    from c2s.eval.coverage import gene_coverage

    coverage = gene_coverage(tokenizer, json.loads((Path(shards_dir) / "genes.json").read_text()))
    coverage.log(f"the shards for the model from {init_from or cfg.model.name_or_path}")
    return coverage


def _plugins(sharded: bool) -> list:
    """Atomic checkpoint writes (FSDP writes sharded directories itself); under SLURM, Lightning's own requeue on
    SIGUSR1 is off: GracefulStop saves the checkpoint c2s resumes from, then requeues."""
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    plugins: list = [] if sharded else [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        plugins.append(SLURMEnvironment(auto_requeue=False))
    return plugins


def run_stage(cfg: TrainConfig, name: str, shards_dir: Path, init_from: str | None, logger) -> Path:
    """Train stage ``name`` of ``cfg`` (a validated TrainConfig); return its HF export dir."""
    stage, strat = cfg.stages[name], cfg.strategy
    sharded = STRATEGIES[strat.name].sharded
    out = Path(cfg.run_dir) / name
    if (out / "summary.json").exists() and cfg.resume == "auto" and not cfg.fast_dev_run:
        log.info("Stage %s already finished in %s; skipping (resume=auto).", name, out)
        return out / "hf"
    ckpt = out / "checkpoints" / "last.ckpt"
    if (ckpt.exists() or previous(ckpt).exists()) and cfg.resume == "never":
        raise C2SInputError(f"{out} already holds a run. Use resume=auto to continue it, or another name=.")
    seed = cfg.seed if stage.seed is None else stage.seed
    L.seed_everything(seed, workers=True)
    recipe = RECIPES[stage.mode](cfg, name, shards_dir, init_from, seed)
    dm = recipe.datamodule()
    coverage = _coverage(cfg, shards_dir, init_from, dm.tokenizer)
    budget = recipe.budget(dm)
    module = recipe.module(dm, budget)
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [
        ModelCheckpoint(
            dirpath=out / "checkpoints", save_last=True, save_top_k=0, every_n_train_steps=stage.ckpt_every_n_steps
        ),
        History(out / "history.jsonl"),
        TrainedPosition(),
        stop := GracefulStop(ckpt),
    ]
    if logger:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    trainer = L.Trainer(
        accelerator=strat.accelerator,
        devices=strat.devices,
        num_nodes=strat.num_nodes,
        strategy=STRATEGIES[strat.name].build(strat),
        precision=strat.precision,
        max_steps=budget.max_steps,
        max_epochs=budget.max_epochs,
        accumulate_grad_batches=stage.accumulate_grad_batches,
        val_check_interval=stage.val_every_n_steps,
        log_every_n_steps=stage.log_every_n_steps,
        logger=logger,
        callbacks=callbacks,
        default_root_dir=str(out),
        deterministic=strat.accelerator == "cpu",
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        fast_dev_run=cfg.fast_dev_run,
        enable_model_summary=False,
        plugins=_plugins(sharded),
        **recipe.trainer_kwargs(),
    )
    t0 = time.perf_counter()
    if trainer.is_global_zero:
        sweep_orphans(out, depth=2)  # half-written checkpoints of a killed run
    point = None if cfg.fast_dev_run else resume_point(ckpt, out)
    resume_from = str(point[0]) if point else None
    if point:
        log.info("Resuming stage %s from %s (step %d)", name, resume_from, point[1])
        if trainer.is_global_zero:
            rewind_history(out / "history.jsonl", point[1])
            if hasattr(getattr(logger, "experiment", None), "drop_after"):
                logger.experiment.drop_after(f"{name}/", point[1])
    else:
        (out / "history.jsonl").unlink(missing_ok=True)
        with stop.guard(name, trainer):
            trainer.validate(module, datamodule=dm, verbose=False)  # the starting point of the val curve
        module.train()
    with stop.guard(name, trainer):
        trainer.fit(module, datamodule=dm, ckpt_path=resume_from, weights_only=True)
    if not cfg.fast_dev_run:
        trainer.save_checkpoint(ckpt, weights_only=False)  # last.ckpt always holds the final state (= the export)
    if not cfg.fast_dev_run and (not module.val_history or module.val_history[-1]["step"] != trainer.global_step):
        with stop.guard(name, trainer):
            trainer.validate(module, datamodule=dm, verbose=False)  # the end point, if fit stopped mid-epoch
    seconds = time.perf_counter() - t0
    counts = module.parameter_counts()  # before the export merges LoRA adapters into the base weights
    export = export_hf(module.model, dm.tokenizer, out / "hf", sharded=sharded, is_global_zero=trainer.is_global_zero)
    if trainer.is_global_zero:
        write_json_atomic(export / "c2s_meta.json", {"shards": str(shards_dir), "stage": name, "tasks": dm.tasks})
        summary = {
            "stage": name,
            "mode": stage.mode,
            "metric_key": recipe.metric_key,
            "parameters": counts,
            "steps": int(trainer.global_step),
            "seconds": round(seconds, 1),
            "tokens_per_step": budget.tokens_per_step,
            "examples_per_step": budget.examples_per_step,
            "init_from": init_from,
            "shards": str(shards_dir),
            "val_history": module.val_history,
            **({"gene_coverage": coverage.report()} if coverage else {}),
            **({"overlong_dropped": dm.overlong_counts} if getattr(dm, "overlong_counts", None) else {}),
            "export": str(export),
        }
        write_text_atomic(export / "README.md", model_card(summary | {"stage": name}, dm.shards.manifest, cfg.name))
        if not cfg.fast_dev_run:
            write_json_atomic(out / "summary.json", summary)
        key = recipe.metric_key
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
