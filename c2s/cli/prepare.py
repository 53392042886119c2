"""Prepare prompt shards:  python -m c2s.cli.prepare [data=h5ad data.path=my.h5ad ...]"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from c2s.cli import exit_now, exit_on_input_error, hydra_entry
from c2s.config import register_configs
from c2s.config.compose import CONFIG_DIR

register_configs()


def run(cfg: DictConfig) -> None:
    from c2s.config.prepare import PrepareConfig
    from c2s.config.validate import validate_config
    from c2s.data.cores import workers_for
    from c2s.data.processes import early_workers
    from c2s.training.names import check_data_names

    config = validate_config(cfg, PrepareConfig, outputs=("shards_root",))
    check_data_names(config)
    workers = workers_for(config)
    pool = early_workers(config, workers)  # before the heavy imports below, which the workers then overlap
    from c2s.data.prepare import prepare

    print(prepare(config, workers, pool))


@hydra.main(config_path=CONFIG_DIR, config_name="prepare", version_base="1.3")
def main(cfg: DictConfig) -> None:
    exit_on_input_error(run, cfg, "prepare")


if __name__ == "__main__":
    hydra_entry(main)
    exit_now()  # every shard is written and renamed, and the render workers have ended
