"""One experiment logger per job (all stages log into it, prefixed by stage name)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

from c2s.config.logger import LoggerConfig


def wandb_offline(offline: bool | None) -> bool:
    """Offline unless asked for, or unless the user set WANDB_API_KEY or WANDB_MODE."""
    if offline is not None:
        return offline
    return not (os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE"))


def _csv(cfg: LoggerConfig, run_name: str, save_dir: str, config: Mapping[str, Any]):
    from c2s.training.csv_log import ResumableCSVLogger

    return ResumableCSVLogger(save_dir, name="logs", version="")


def _tensorboard(cfg: LoggerConfig, run_name: str, save_dir: str, config: Mapping[str, Any]):
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir, name="tensorboard", version="")


def _wandb(cfg: LoggerConfig, run_name: str, save_dir: str, config: Mapping[str, Any]):
    from lightning.pytorch.loggers import WandbLogger

    offline = wandb_offline(cfg.offline)
    if offline:
        os.environ.setdefault("WANDB_MODE", "offline")
    group = cfg.group or run_name
    return WandbLogger(
        project=cfg.project,
        name=run_name,
        group=group,
        tags=list(cfg.tags),
        save_dir=save_dir,
        offline=offline,
        id=f"{group}-{run_name}".replace("/", "-")[:120],
        resume="allow",
        config=dict(config),
    )


# logger.kind -> builder(LoggerConfig, run name, save dir, the run's config)
LOGGERS: dict[str, Callable[..., Any]] = {
    "none": lambda cfg, run_name, save_dir, config: False,
    "csv": _csv,
    "tensorboard": _tensorboard,
    "wandb": _wandb,
}


def build_logger(cfg: LoggerConfig, run_name: str, save_dir: str | Path, config: Mapping[str, Any]):
    """A Lightning logger for ``cfg``, or False for ``none``; ``config`` (the run's, plain) goes to W&B."""
    return LOGGERS[cfg.kind](cfg, run_name, str(save_dir), config)


def finish_logger(logger) -> None:
    """Close the W&B run so the next job (e.g. in a multirun) starts its own."""
    if logger and type(logger).__name__ == "WandbLogger":
        import wandb

        wandb.finish()
