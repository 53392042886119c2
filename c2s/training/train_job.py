"""The training job (``python train.py``): validate the config, prepare the shards, run the stages in order
with one logger, summarise, and evaluate a sweep job's last export."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import DictConfig

from c2s.config.train import TrainConfig
from c2s.locks import dir_lock


def validate(cfg: DictConfig) -> TrainConfig:
    """Every check that needs no data (schema, values, input files, writable outputs, and every plugin name
    against its registry); the typed config."""
    from c2s.config.validate import validate_config
    from c2s.training.names import check_train_names

    config = validate_config(cfg, TrainConfig, outputs=("shards_root", "run_dir"))
    check_train_names(config)
    return config


def run(cfg: DictConfig) -> Path:
    """Run the job, holding its run directory's lock; returns the last stage's HF export."""
    config = validate(cfg)
    with dir_lock(config.run_dir, "run_dir (or name)"):  # one run per run directory
        return _run(config)


def _run(config: TrainConfig) -> Path:
    from c2s.data.prepare import prepare
    from c2s.training.loggers import build_logger, finish_logger
    from c2s.training.report import summarise_run, write_result
    from c2s.training.run import run_stage

    plain = dataclasses.asdict(config)  # the loggers record it
    shards = prepare(config)
    logger = build_logger(config.logger, config.name, config.run_dir, plain)
    try:
        init_from = config.init_from
        for name in config.order():
            init_from = str(run_stage(config, name, shards, init_from, logger))
    finally:
        finish_logger(logger)
    if not config.fast_dev_run:
        print(summarise_run(config.run_dir, config.order()))
        write_result(config.run_dir, config)
        if config.evaluate.enabled:
            from c2s.training.sweep_eval import evaluate_into_result

            evaluate_into_result(config, init_from)
    return Path(init_from)
