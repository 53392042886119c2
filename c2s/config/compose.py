"""Compose the shipped Hydra configs in process (tests, notebooks, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")


def compose_config(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """The config ``configs/<config_name>.yaml`` with Hydra ``overrides``, validated by its schema."""
    from hydra import compose, initialize_config_dir

    from c2s.config.store import register_configs

    register_configs()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides or []))
