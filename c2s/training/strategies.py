"""``strategy.name`` -> how Lightning runs it, and what the rest of the code needs to know about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from c2s.config.train import StrategyConfig


@dataclass(frozen=True)
class Strategy:
    """``build``: the Trainer's strategy argument. ``sharded``: parameters are FSDP2 shards, so the module shards
    itself in ``configure_model``, clips its own gradients (Lightning cannot clip DTensors), and checkpoints are
    directories that the strategy writes itself."""

    build: Callable[[StrategyConfig], Any]
    sharded: bool = False


def _fsdp(s: StrategyConfig):
    from lightning.pytorch.strategies import ModelParallelStrategy

    return ModelParallelStrategy(data_parallel_size=s.devices * s.num_nodes, tensor_parallel_size=1)


STRATEGIES: dict[str, Strategy] = {
    "cpu": Strategy(lambda s: "auto"),
    "gpu": Strategy(lambda s: "auto"),
    "ddp": Strategy(lambda s: "ddp"),
    "fsdp": Strategy(_fsdp, sharded=True),
}
