"""Train: prepare shards, then run the configured stages (pre-training, SFT, …) in order.

    python train.py                                  # the main job on pbmc68k_reduced (CPU)
    python train.py data=h5ad data.path=my.h5ad data.cell_type_key=cell_type
    python train.py model=pythia-160m strategy=ddp stages.pretrain.max_tokens=1e8
    python train.py -m experiment=...                # Hydra multirun sweeps

Config errors (unknown keys, wrong types, impossible combinations, missing data files) fail
here, before any data or model work.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from c2s.cli import exit_on_input_error, hydra_entry
from c2s.config import register_configs
from c2s.config.compose import CONFIG_DIR

register_configs()


def validate(cfg: DictConfig) -> dict:
    """Every check that needs no data (schema, values, input files, writable outputs); a plain dict."""
    from c2s.config.train import TrainConfig
    from c2s.config.validate import validate_config

    return validate_config(cfg, TrainConfig, outputs=("shards_root", "run_dir"))


def run(cfg: DictConfig) -> Path:
    from c2s.data.prepare import prepare
    from c2s.training.loggers import build_logger, finish_logger
    from c2s.training.report import summarise_run, write_result
    from c2s.training.run import run_stage

    c = validate(cfg)
    shards = prepare(c)
    logger = build_logger(c["logger"], c["name"], c["run_dir"], c)
    try:
        init_from = c["init_from"]
        for name in c["run_stages"] or c["stages"]:
            init_from = str(run_stage(c, name, shards, init_from, logger))
    finally:
        finish_logger(logger)
    if not c["fast_dev_run"]:
        print(summarise_run(c["run_dir"], list(c["run_stages"] or c["stages"])))
        write_result(c["run_dir"], c)
    return Path(init_from)


@hydra.main(config_path=CONFIG_DIR, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    exit_on_input_error(run, cfg, "train")


if __name__ == "__main__":
    hydra_entry(main)
