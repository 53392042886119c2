"""Structured config schemas. Each YAML group file is merged onto one of these, so a
typo'd key or a wrong type fails at compose time, before any data or model work."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf


PROMPT_FORMATS = ("c2s", "c2s_scale")  # c2s.tasks.formats renders them


def one_of(value: Any, allowed: tuple, key: str) -> None:
    """Raise naming ``key`` unless ``value`` is in ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{key}={value!r} is not one of {allowed}.")


def positive(obj: Any, *keys: str, prefix: str = "") -> None:
    """Raise naming the first of ``keys`` (attributes of ``obj``) that is not an integer >= 1."""
    for key in keys:
        value = getattr(obj, key)
        if value is not None and value < 1:
            raise ValueError(f"{prefix}{key}={value} must be a positive integer (>= 1).")


@dataclass
class DataConfig:
    """One AnnData source and how to read it (configs/data/)."""

    name: str = MISSING  # short id, used in output paths
    path: str = MISSING  # .h5ad path, or scanpy:pbmc68k_reduced
    use_raw: bool = False  # read adata.raw instead of X
    layer: str | None = None  # read adata.layers[layer] instead of X
    gene_key: str | None = None  # var column with gene symbols; null = var_names
    matrix_kind: str = "auto"  # auto | counts | lognorm
    backed: bool = False  # open the h5ad backed="r" (bounded memory)
    cell_type_key: str | None = None  # obs column with cell-type labels
    tissue_key: str | None = None  # obs column: tissue
    donor_key: str | None = None  # obs column: donor / individual
    batch_key: str | None = None  # obs column: batch / sample
    sample_key: str | None = None  # obs column: tissue section / sample with its own spatial frame (else batch_key)
    condition_key: str | None = None  # obs column: perturbation or condition
    control_value: str | None = None  # value of condition_key marking control cells
    cluster_key: str | None = None  # obs column: cluster ids (for captioning)
    caption_key: str | None = None  # obs column: a caption per cluster
    captions: dict[str, str] | None = None  # or captions from config: {cluster: caption}
    niche_key: str | None = None  # obs column: spatial niche label (else derived from neighbours)
    spatial_key: str = "spatial"  # obsm key of spatial coordinates
    organism: str = "human"
    description: str | None = None  # free-text dataset description (else uns['description'])
    gene_sets_gmt: str | None = None  # GMT file; default: marker sets from the data
    qa_path: str | None = None  # JSONL: {"question", "answer", "cell_ids" | "group"}


@dataclass
class SentencesConfig:
    """The cell-sentence step (configs/sentences.yaml)."""

    data: DataConfig = field(default_factory=DataConfig)
    top_k: int = 100  # genes per sentence
    seed: int = 0  # seeds the cells sampled for the inverse fit
    fit_cells: int = 1000  # cells sampled for the inverse fit
    fit_top_k: int | None = None  # ranks used by the fit; null = all expressed genes
    chunk_size: int = 512  # rows per streamed CSR chunk
    out_dir: str = MISSING

    def __post_init__(self) -> None:
        positive(self, "top_k", "fit_cells", "fit_top_k", "chunk_size")


@dataclass
class TokenizerConfig:
    """configs/tokenizer/: gene-aware (trained here) or a base model's."""

    kind: str = "gene"  # gene | byte_bpe (baseline, same vocabulary size) | pretrained
    name_or_path: str | None = None  # for kind=pretrained: hub id or local dir
    add_genes: bool = True  # kind=pretrained: add every gene symbol as a token
    text_vocab_size: int = 2048  # kind=gene: BPE entries for the text around genes


@dataclass
class SplitConfig:
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_by: str | None = None  # null = by cell; or donor | batch | tissue (a mapped role)
    holdout: list[dict[str, str]] = field(default_factory=list)  # e.g. [{cell_type: B, condition: stimulated}]

    def __post_init__(self) -> None:
        for key in ("val_fraction", "test_fraction"):
            if not 0 <= getattr(self, key) < 1:
                raise ValueError(f"split.{key}={getattr(self, key)} must be in [0, 1).")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(f"split.val_fraction + split.test_fraction = {self.val_fraction + self.test_fraction} "
                             "leaves no cells to train on; keep their sum below 1 (e.g. 0.1 and 0.1).")


@dataclass
class TaskOptionsConfig:
    genes_per_cell: int = 100
    multi_genes_per_cell: int = 20
    max_tokens: int = 1024  # multi-cell example budget (up to 8192)
    max_cells: int = 16
    passes: int = 1
    repeats: int = 5
    neighbours: int = 5
    prompt_format: str = "c2s"  # c2s (our templates) | c2s_scale (the released C2S-Scale models' prompts)

    def __post_init__(self) -> None:
        positive(self, "genes_per_cell", "multi_genes_per_cell", "max_tokens", "max_cells", "passes", "repeats",
                 "neighbours", prefix="tasks.options.")
        one_of(self.prompt_format, PROMPT_FORMATS, "tasks.options.prompt_format")


@dataclass
class TasksConfig:
    names: list[str] = field(default_factory=list)  # tasks to render (skipped if metadata is missing)
    options: TaskOptionsConfig = field(default_factory=TaskOptionsConfig)
    match_keys: list[str] = field(default_factory=lambda: ["cell_type"])  # perturbation control matching


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
    workers: int = 1  # render processes on this machine (output bytes do not depend on it)
    chunk_size: int = 4096  # AnnData rows per conversion chunk (bounds memory; output independent of it)
    step: str = "all"  # all | plan | render | merge (split the work across machines, see experiments/README)
    part: int = 0  # step=render: which share of the render jobs this process runs
    num_parts: int = 1

    def __post_init__(self) -> None:
        positive(self, "top_k", "rows_per_shard", "workers", "chunk_size", "num_parts")
        if self.step not in ("all", "plan", "render", "merge"):
            raise ValueError(f"step={self.step!r} is not one of ('all', 'plan', 'render', 'merge').")
        if not 0 <= self.part < self.num_parts:
            raise ValueError(f"part={self.part} must be in [0, num_parts={self.num_parts}).")


@dataclass
class GenerationConfig:
    max_new_tokens: int = 160
    batch_size: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    no_repeat_genes: bool = True  # single-cell gene lists: never emit a token twice
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
    logger: Any = None
    # Zero-shot on a new h5ad (data=h5ad data.path=…): examples rendered on the fly, no shards.
    data: DataConfig | None = None
    prompt_format: str = "c2s"  # c2s | c2s_scale (the released C2S-Scale models' prompts)
    genes_per_cell: int | None = None  # null: 200 for c2s_scale (the model cards), else 100
    test_fraction: float = 0.2  # of the h5ad's cells, scored (a seeded split); the rest feed the baselines
    baseline_examples: int = 2000  # training examples sampled per task for the baselines

    def __post_init__(self) -> None:
        positive(self, "max_examples", "bootstrap", "program_top_n", "genes_per_cell", "baseline_examples")
        if self.split not in ("train", "val", "test"):
            raise ValueError(f"split={self.split!r} is not one of ('train', 'val', 'test').")
        one_of(self.prompt_format, PROMPT_FORMATS, "prompt_format")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction={self.test_fraction} must be in (0, 1).")
        if self.data is not None and self.shards is not None:
            raise ValueError("Give either data=… (zero-shot on an h5ad) or shards=… (prepared shards), not both.")
        if self.data is not None and self.split != "test":
            raise ValueError("Zero-shot evaluation (data=…) scores the test cells of the file: leave split=test.")


def hydra_dir(path: str) -> str:
    """Hydra's output dir: ``path`` if writable, else a temp dir. Hydra creates it before any
    check of ours runs, so an unwritable ``run_dir`` would otherwise end in Hydra's traceback
    instead of validation's one-line error."""
    import tempfile

    from c2s.config.validate import check_writable
    from c2s.errors import C2SInputError

    try:
        check_writable(path, "hydra.run.dir")
        return path
    except C2SInputError:
        return str(Path(tempfile.gettempdir()) / "c2s-hydra" / Path(path).name)


def register_configs() -> None:
    """Register the schemas with Hydra's ConfigStore (idempotent)."""
    if not OmegaConf.has_resolver("stem"):
        OmegaConf.register_new_resolver("stem", lambda p: Path(str(p).split(":")[-1]).stem)
    if not OmegaConf.has_resolver("hydra_dir"):
        OmegaConf.register_new_resolver("hydra_dir", hydra_dir)
    cs = ConfigStore.instance()
    cs.store(name="sentences_schema", node=SentencesConfig)
    cs.store(name="prepare_schema", node=PrepareConfig)
    from c2s.config.train_schema import TrainConfig

    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="evaluate_schema", node=EvaluateConfig)
