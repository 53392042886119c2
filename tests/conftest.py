"""Shared fixtures: the bundled real PBMCs and seeded synthetic AnnData."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

warnings.filterwarnings("ignore", category=FutureWarning, module="anndata")


@pytest.fixture(scope="session")
def pbmc() -> ad.AnnData:
    """scanpy's bundled pbmc68k_reduced (700 real cells × 765 genes; .X scaled, .raw log-normalised)."""
    import scanpy as sc

    return sc.datasets.pbmc68k_reduced()


def make_counts(n_cells: int = 200, n_genes: int = 300, density: float = 0.1, seed: int = 0) -> ad.AnnData:
    """Seeded integer-count AnnData with gene symbols GENE0.. and a cell_type column."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_cells, n_genes)) < density
    counts = np.where(mask, rng.geometric(0.3, size=(n_cells, n_genes)), 0).astype(np.float32)
    counts[:, 0] = np.maximum(counts[:, 0], 1)  # no empty cells unless a test makes them
    adata = ad.AnnData(
        sp.csr_matrix(counts),
        obs=pd.DataFrame(
            {"cell_type": rng.choice(["T", "B", "NK"], n_cells)}, index=[f"cell{i}" for i in range(n_cells)]
        ),
        var=pd.DataFrame(index=[f"GENE{j}" for j in range(n_genes)]),
    )
    return adata


@pytest.fixture
def counts_adata() -> ad.AnnData:
    return make_counts()


def reference_topk(row: np.ndarray, k: int) -> np.ndarray:
    """The documented rule, written plainly: expressed genes by value descending, then column ascending."""
    cols = np.flatnonzero(row > 0)
    order = np.lexsort((cols, -row[cols]))
    return cols[order][:k]


SYNTHETIC_DATA = {
    "name": "synthetic",
    "path": "synthetic:0",
    "cell_type_key": "cell_type",
    "tissue_key": "tissue",
    "donor_key": "donor",
    "batch_key": "batch",
    "condition_key": "condition",
    "control_value": "control",
    "cluster_key": "cluster",
    "caption_key": "caption",
    "organism": "human",
}
PBMC_DATA = {
    "name": "pbmc68k_reduced",
    "path": "scanpy:pbmc68k_reduced",
    "use_raw": True,
    "cell_type_key": "bulk_labels",
    "description": "Human PBMCs.",
}


@pytest.fixture(scope="session")
def qa_file(tmp_path_factory):
    import json

    path = tmp_path_factory.mktemp("qa") / "qa.jsonl"
    items = [
        {"question": f"Which donor is this? ({i})", "answer": "donor1", "group": {"donor": "donor1"}} for i in range(10)
    ]
    items += [{"question": "Are these cells stimulated?", "answer": "yes", "cell_ids": ["cell1", "cell3", "cell5"]}]
    path.write_text("\n".join(json.dumps(x) for x in items))
    return path


@pytest.fixture(scope="session")
def synthetic_corpus(qa_file):
    """The synthetic corpus with every role, and an interaction table of 20 gene pairs (G<i> -> G<100 + i>)."""
    from c2s.corpus.build import build_corpus
    from c2s.corpus.interactions import build_interactions

    corpus = build_corpus(dict(SYNTHETIC_DATA, qa_path=str(qa_file)), top_k=50, seed=0)
    pairs = qa_file.parent / "pairs.csv"
    pairs.write_text("ligand,receptor,type\n" + "".join(f"G{i},G{100 + i},ligand-receptor\n" for i in range(20)))
    corpus.interactions = build_interactions(str(pairs), "human", corpus.sentences.gene_names, 0.1, 0.1, 0)
    return corpus


@pytest.fixture(scope="session")
def pbmc_corpus():
    from c2s.corpus.build import build_corpus

    return build_corpus(PBMC_DATA, top_k=100, seed=0)


def compose(config_name: str, overrides: list[str]):
    """Compose a shipped config in process, as the entry points do."""
    from c2s.config.compose import compose_config

    return compose_config(config_name, overrides)


def prepare_config(tmp_path, *overrides: str):
    """The validated PrepareConfig of configs/prepare.yaml on the synthetic data, with ``overrides``."""
    from c2s.config.prepare import PrepareConfig
    from c2s.config.validate import validate_config

    cfg = compose(
        "prepare",
        [
            "data=synthetic",
            f"shards_root={tmp_path}/shards",
            "tasks.options.repeats=2",
            "tokenizer.text_vocab_size=300",
            *overrides,
        ],
    )
    return validate_config(cfg, PrepareConfig)


@pytest.fixture(scope="session")
def synthetic_shards(tmp_path_factory):
    from c2s.data.prepare import prepare

    return prepare(prepare_config(tmp_path_factory.mktemp("prep"), "rows_per_shard=128"))


def train_overrides(tmp_path, *extra: str) -> list[str]:
    """A small, fast training config on the synthetic data (tests only)."""
    stages = [s for s in ("pretrain", "sft") if f"~stage@stages.{s}" not in extra]
    per_stage = [f"stages.{s}.{k}" for s in stages for k in ("max_seq_len=256", "batch_size=4")]
    return [
        "data=synthetic",
        f"shards_root={tmp_path}/shards",
        f"run_dir={tmp_path}/run",
        "logger=none",
        "tasks.names=[cell_lm,cell_type_annotation,multi_cell_lm]",
        "tasks.options.max_tokens=256",
        "tasks.options.genes_per_cell=30",
        "top_k=30",
        "tokenizer.text_vocab_size=300",
        *extra,
        *per_stage,
    ]


def tiny_decoders(hidden: int, head_dim: int, sliding_window: int):
    """A tiny GPT-NeoX (sdpa) and Gemma-2 (eager, grouped-query) ModelConfig of width ``hidden``."""
    from dataclasses import replace

    from c2s.config.model import ModelConfig

    neox = ModelConfig(
        attn_implementation="sdpa",
        hidden_size=hidden,
        num_layers=2,
        num_heads=4,
        intermediate_size=64,
        max_position_embeddings=256,
        compile=False,
    )
    gemma = replace(
        neox,
        arch="gemma2",
        attn_implementation="eager",
        num_kv_heads=2,
        head_dim=head_dim,
        sliding_window=sliding_window,
        query_pre_attn_scalar=head_dim,
    )
    return neox, gemma
