"""Schemas of the prepare step (configs/prepare.yaml): AnnData -> prompt shards + tokenizer."""

from __future__ import annotations

from dataclasses import dataclass, field

from c2s.config.checks import positive
from c2s.config.data import DataConfig, SplitConfig
from c2s.config.tasks import TasksConfig


@dataclass
class TokenizerConfig:
    """configs/tokenizer/: gene-aware (trained here) or a base model's."""

    kind: str = "gene"  # gene | byte_bpe (baseline, same vocabulary size) | pretrained
    name_or_path: str | None = None  # for kind=pretrained: hub id or local dir
    add_genes: bool = True  # kind=pretrained: add every gene symbol as a token
    text_vocab_size: int = 2048  # kind=gene: BPE entries for the text around genes


@dataclass
class PrepareConfig:
    """The prepare step (configs/prepare.yaml): AnnData -> prompt shards + tokenizer."""

    data: DataConfig = field(default_factory=DataConfig)
    extra_data: list[DataConfig] = field(default_factory=list)  # more AnnData files, rendered alike and mixed
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    tasks: TasksConfig = field(default_factory=TasksConfig)
    seed: int = 0
    top_k: int = 100
    rows_per_shard: int = 50_000  # rows per parquet file (files never mix splits or tasks)
    shards_root: str = "outputs/shards"
    # render processes on this machine: auto (the cores this process may use, capped by memory; 1 for small data)
    # or a number; output bytes do not depend on it
    workers: str = "auto"
    chunk_size: int = 4096  # AnnData rows per conversion chunk (bounds memory; output independent of it)
    step: str = "all"  # all | plan | render | merge (split the work across machines, see experiments/README)
    part: int = 0  # step=render: which share of the render jobs this process runs
    num_parts: int = 1

    def __post_init__(self) -> None:
        positive(self, "top_k", "rows_per_shard", "chunk_size", "num_parts")
        if self.workers != "auto" and not (str(self.workers).isdigit() and int(self.workers) >= 1):
            raise ValueError(f"workers={self.workers!r} must be auto or a positive integer.")
        if self.step not in ("all", "plan", "render", "merge"):
            raise ValueError(f"step={self.step!r} is not one of ('all', 'plan', 'render', 'merge').")
        if not 0 <= self.part < self.num_parts:
            raise ValueError(f"part={self.part} must be in [0, num_parts={self.num_parts}).")
