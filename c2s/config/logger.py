"""Schema of the experiment logger (configs/logger/), shared by train.py and evaluate.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from c2s.config.checks import one_of


@dataclass
class LoggerConfig:
    kind: str = "csv"  # wandb | csv | tensorboard | none
    project: str = "c2s"
    group: str | None = None  # wandb group (sweep / experiment name)
    tags: list[str] = field(default_factory=list)
    offline: bool | None = None  # wandb: null = offline unless WANDB_API_KEY or WANDB_MODE is set

    def __post_init__(self) -> None:
        one_of(self.kind, ("wandb", "csv", "tensorboard", "none"), "logger.kind")
