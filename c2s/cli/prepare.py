"""Prepare prompt shards:  python -m c2s.cli.prepare [data=h5ad data.path=my.h5ad ...]"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from c2s.config.compose import CONFIG_DIR
from c2s.config import register_configs
from c2s.data.prepare import prepare

register_configs()


@hydra.main(config_path=CONFIG_DIR, config_name="prepare", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out = prepare(OmegaConf.to_container(cfg, resolve=True))
    print(out)


if __name__ == "__main__":
    main()
