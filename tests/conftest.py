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
        obs=pd.DataFrame({"cell_type": rng.choice(["T", "B", "NK"], n_cells)}, index=[f"cell{i}" for i in range(n_cells)]),
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
