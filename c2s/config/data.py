"""Schemas of the input data: an AnnData source (configs/data/), the split, and the cell-sentence step."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from c2s.config.checks import plain_name, positive


@dataclass
class DataConfig:
    """One AnnData source and how to read it (configs/data/)."""

    name: str = MISSING  # short id, used in output paths
    path: str = MISSING  # .h5ad path, or scanpy:pbmc68k_reduced
    use_raw: bool = False  # read adata.raw instead of X
    layer: str | None = None  # read adata.layers[layer] instead of X
    gene_key: str | None = None  # var column with gene symbols; null = var_names
    matrix_kind: str = "auto"  # auto | counts | lognorm
    backed: bool = True  # a path: matrix in row chunks, metadata part by part (bounded memory); false loads it
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
    dataset_key: str | None = None  # obs column: the dataset a cell comes from (its text: dataset_text_csv, Census)
    spatial_key: str = "spatial"  # obsm key of spatial coordinates
    organism: str = "human"
    description: str | None = None  # free-text dataset description (else uns['description'])
    gene_sets_gmt: str | None = None  # GMT file; default: marker sets from the data
    qa_path: str | None = None  # JSONL: {"question", "answer", "cell_ids" | "group"}
    # gene interactions (interaction tasks, spatial context): null = liana's consensus table for the organism;
    # liana:<resource> another of liana's tables; or a CSV with ligand,receptor (or gene_a,gene_b) [,type]
    interactions_csv: str | None = None
    # a TileDB-SOMA experiment (data=soma: path soma:<uri>): the query's measurement, value filters, cell-name column
    uri: str | None = None
    measurement: str = "RNA"
    obs_value_filter: str | None = None  # e.g. "tissue_general == 'lung' and is_primary_data == True"
    var_value_filter: str | None = None
    obs_id_key: str | None = "obs_id"  # obs column of cell names (null or absent: the soma_joinids)
    dataset_text_csv: str | None = None  # CSV dataset_id,text: each dataset's description (over the Census's own)
    # the CELLxGENE Census (data=census, c2s.io.census): a dated release (never latest), the organism, primary cells
    census_version: str | None = None
    census_organism: str | None = None  # homo_sapiens | mus_musculus (sets organism)
    census_primary_only: bool = True  # AND is_primary_data == True: no cell counted twice

    def __post_init__(self) -> None:
        plain_name(self.name, "data.name")  # it names the shard directory under shards_root
        if self.census_organism is not None:
            from c2s.io.census import ORGANISMS

            if self.census_organism not in ORGANISMS:
                raise ValueError(f"data.census_organism={self.census_organism!r} is not one of {sorted(ORGANISMS)}.")
            self.organism = ORGANISMS[self.census_organism]
        if self.census_version == "latest":
            raise ValueError("data.census_version=latest would change under you: pin a dated release, e.g. 2025-01-30.")


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
            raise ValueError(
                f"split.val_fraction + split.test_fraction = {self.val_fraction + self.test_fraction} "
                "leaves no cells to train on; keep their sum below 1 (e.g. 0.1 and 0.1)."
            )


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
