"""Structured config schemas. Each YAML group file is merged onto one of these, so a
typo'd key or a wrong type fails at compose time, before any data or model work."""

from __future__ import annotations

from dataclasses import dataclass, field

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf


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


def register_configs() -> None:
    """Register the schemas with Hydra's ConfigStore (idempotent)."""
    if not OmegaConf.has_resolver("stem"):
        OmegaConf.register_new_resolver("stem", lambda p: Path(str(p).split(":")[-1]).stem)
    cs = ConfigStore.instance()
    cs.store(name="sentences_schema", node=SentencesConfig)
