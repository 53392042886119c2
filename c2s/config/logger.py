"""Schema of the experiment logger (configs/logger/), shared by train.py and evaluate.py."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoggerConfig:
    kind: str = "csv"  # a name of c2s.training.loggers.LOGGERS: wandb | csv | tensorboard | none
    project: str = "c2s"
    group: str | None = None  # wandb group (sweep / experiment name)
    tags: list[str] = field(default_factory=list)
    offline: bool | None = None  # wandb: null = offline unless WANDB_API_KEY or WANDB_MODE is set
