"""Schemas of train.py (configs/train.yaml): prepare, then the stages in order, under a strategy and a logger.
Unknown keys and wrong types fail at compose time; impossible combinations fail in ``__post_init__`` when
``validate`` builds the objects, both before any data or model work."""

from __future__ import annotations

from dataclasses import dataclass, field

from c2s.config.checks import one_of
from c2s.config.evaluate import GenerationConfig
from c2s.config.logger import LoggerConfig
from c2s.config.model import ModelConfig
from c2s.config.prepare import PrepareConfig
from c2s.config.stage import StageConfig


@dataclass
class StrategyConfig:
    """configs/strategy/: a name of c2s.training.strategies.STRATEGIES (cpu, gpu, ddp, fsdp)."""

    name: str = "cpu"
    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    precision: str = "32-true"
    activation_checkpointing: bool = False  # fsdp: checkpoint each decoder block

    def __post_init__(self) -> None:
        if self.devices < 1 or self.num_nodes < 1:
            raise ValueError("strategy.devices and strategy.num_nodes must be >= 1.")


@dataclass
class SweepEvalConfig:
    """After the last stage (sweeps): evaluate its export on the test split and put the metrics, with CIs, into
    result.json (``python -m c2s.scaling`` plots them). Off by default; the main job runs evaluate.py itself."""

    enabled: bool = False
    tasks: list[str] | None = None  # null: every task in the shards
    max_examples: int = 100  # per task
    bootstrap: int = 1000
    generation: GenerationConfig = field(default_factory=lambda: GenerationConfig(max_new_tokens=120))


@dataclass
class TrainConfig(PrepareConfig):
    """configs/train.yaml: prepare data, then run ``stages`` in order, each from the previous one."""

    model: ModelConfig = field(default_factory=ModelConfig)
    stages: dict[str, StageConfig] = field(default_factory=dict)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    evaluate: SweepEvalConfig = field(default_factory=SweepEvalConfig)
    name: str = "main"
    run_dir: str = "outputs/runs/main"
    resume: str = "auto"  # auto: continue in run_dir; never: refuse to reuse run_dir
    run_stages: list[str] | None = None  # which composed stages run, in order; null = all
    init_from: str | None = None  # HF export dir to start the first stage from
    # DataLoader workers: 0 (measured: on 2 cores a training step uses both, workers only compete; benchmarks/README)
    num_workers: int = 0
    fast_dev_run: bool = False

    def order(self) -> list[str]:
        """The stages that run, in order."""
        return list(self.run_stages or self.stages)

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of(self.resume, ("auto", "never"), "resume")
        if self.num_workers < 0:
            raise ValueError(f"num_workers={self.num_workers} must be >= 0.")
        if not self.stages:
            raise ValueError("stages is empty: compose at least one stage (e.g. stage@stages.pretrain=pretrain).")
        unknown = sorted(set(self.run_stages or []) - set(self.stages))
        if unknown:
            raise ValueError(f"run_stages names {unknown}, which are not composed; stages: {sorted(self.stages)}.")
        first_lora = self.stages[self.order()[0]].lora.enabled
        if first_lora and self.model.init == "scratch" and not self.init_from:
            raise ValueError(
                "stages.<first>.lora.enabled=true with model.init=scratch: LoRA adapts trained weights. "
                "Set model.init=pretrained, init_from=<HF export>, or disable LoRA."
            )
