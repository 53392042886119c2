"""Train: prepare shards, then run the configured stages (pre-training, SFT, GRPO, …) in order.

    python train.py                                  # the main job on pbmc68k_reduced (CPU)
    python train.py data=h5ad data.path=my.h5ad data.cell_type_key=cell_type
    python train.py model=pythia-160m strategy=ddp stages.pretrain.max_tokens=1e8
    python train.py -m experiment=...                # Hydra multirun sweeps

Config errors (unknown keys, wrong types, unknown plugin names, impossible combinations, missing data files)
fail before any data or model work. The job itself: c2s.training.train_job.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from c2s.cli import exit_on_input_error, hydra_entry
from c2s.config import register_configs
from c2s.config.compose import CONFIG_DIR
from c2s.training.train_job import run, validate

register_configs()
__all__ = ["main", "run", "validate"]


@hydra.main(config_path=CONFIG_DIR, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    exit_on_input_error(run, cfg, "train")


if __name__ == "__main__":
    hydra_entry(main)
