"""Train: prepare shards, then run the configured stages (pre-training, SFT, …) in order.

    python train.py                                  # the main job on pbmc68k_reduced (CPU)
    python train.py data=h5ad data.path=my.h5ad data.cell_type_key=cell_type
    python train.py model=pythia-160m strategy=ddp stages.pretrain.max_tokens=1e8
    python train.py -m experiment=...                # Hydra multirun sweeps

Config errors (unknown keys, wrong types, impossible combinations, missing data files) fail
here, before any data or model work.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import hydra
from omegaconf import DictConfig

from c2s.cli import exit_on_input_error, hydra_entry
from c2s.config import register_configs
from c2s.config.compose import CONFIG_DIR
from c2s.config.train import TrainConfig

register_configs()


def validate(cfg: DictConfig) -> TrainConfig:
    """Every check that needs no data (schema, values, input files, writable outputs, names that registries
    define); the typed config."""
    from c2s.config.validate import validate_config
    from c2s.training.recipes import check_stages

    config = validate_config(cfg, TrainConfig, outputs=("shards_root", "run_dir"))
    check_stages(config)
    return config


def run(cfg: DictConfig) -> Path:
    from c2s.data.prepare import prepare
    from c2s.training.loggers import build_logger, finish_logger
    from c2s.training.report import summarise_run, write_result
    from c2s.training.run import run_stage

    config = validate(cfg)
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


@hydra.main(config_path=CONFIG_DIR, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    exit_on_input_error(run, cfg, "train")


if __name__ == "__main__":
    hydra_entry(main)
