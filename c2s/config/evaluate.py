"""Schemas of evaluate.py (configs/evaluate.yaml) and its generation settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from c2s.config.checks import one_of, positive
from c2s.config.data import DataConfig
from c2s.config.logger import LoggerConfig
from c2s.config.tasks import PROMPT_FORMATS


@dataclass
class GenerationConfig:
    max_new_tokens: int = 160
    batch_size: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    no_repeat_genes: bool = True  # single-cell gene lists: never emit a token twice
    also_sample: bool = True  # cell generation: a sampled pass (temperature, top_p) beside the greedy one
    cache: str = "dynamic"  # dynamic | static (HF KV cache)

    def __post_init__(self) -> None:
        positive(self, "max_new_tokens", "batch_size", prefix="generation.")
        if self.cache not in ("dynamic", "static"):
            raise ValueError(f"generation.cache={self.cache!r} is not one of ('dynamic', 'static').")
        if self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ValueError("generation: temperature must be > 0 and 0 < top_p <= 1.")


@dataclass
class EvaluateConfig:
    """evaluate.py (configs/evaluate.yaml)."""

    ckpt: str = MISSING
    shards: str | None = None
    split: str = "test"
    tasks: list[str] | None = None
    max_examples: int = 200
    seed: int = 0
    bootstrap: int = 1000
    embeddings: bool = True
    bertscore_model: str | None = None
    program: list[str] | None = None  # perturbation gene program; null: top DE genes of the train pairs
    program_top_n: int = 20
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    device: str = "auto"  # auto (cuda if available) | cpu | cuda | cuda:N; bfloat16 weights on a GPU
    out_dir: str | None = None
    init_from: str | None = None  # a .ckpt's base model, if it moved since training (the checkpoint records it)
    trust_remote_code: bool = False  # only from your command line: never taken from a checkpoint
    logger: LoggerConfig = field(default_factory=lambda: LoggerConfig(kind="none"))
    # Zero-shot on a new h5ad (data=h5ad data.path=…): examples rendered on the fly, no shards.
    data: DataConfig | None = None
    prompt_format: str = "c2s"  # c2s | c2s_scale (the released C2S-Scale models' prompts)
    genes_per_cell: int | None = None  # null: 200 for c2s_scale (the model cards), else 100
    test_fraction: float = 0.2  # of the h5ad's cells, scored (a seeded split); the rest feed the baselines
    baseline_examples: int = 2000  # training examples sampled per task for the baselines
    # zero-shot gene names: keep | upper | match_model (each gene takes the spelling of the model's gene token with
    # the same letters, ignoring case: a mouse file for a model trained on human symbols, or the reverse)
    gene_case: str = "keep"

    def __post_init__(self) -> None:
        positive(self, "max_examples", "bootstrap", "program_top_n", "genes_per_cell", "baseline_examples")
        if self.split not in ("train", "val", "test"):
            raise ValueError(f"split={self.split!r} is not one of ('train', 'val', 'test').")
        one_of(self.prompt_format, PROMPT_FORMATS, "prompt_format")
        one_of(self.gene_case, ("keep", "upper", "match_model"), "gene_case")
        if self.gene_case != "keep" and self.data is None:
            raise ValueError("gene_case applies to zero-shot evaluation (data=…); shards keep the names they hold.")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction={self.test_fraction} must be in (0, 1).")
        if self.data is not None and self.shards is not None:
            raise ValueError("Give either data=… (zero-shot on an h5ad) or shards=… (prepared shards), not both.")
        if self.data is not None and self.split != "test":
            raise ValueError("Zero-shot evaluation (data=…) scores the test cells of the file: leave split=test.")
