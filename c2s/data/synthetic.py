"""A seeded synthetic AnnData with every kind of metadata the tasks use.

Integer counts (negative binomial-like) for ``n_types`` cell types, each with its own marker
genes; tissues, donors and batches; a ``condition`` column where ``stimulated`` cells up-regulate
an interferon-like gene program (genes ``IFN0..``) ×``effect``; clusters with captions; 2-D
spatial coordinates where cells of a type sit together. Load it as ``synthetic:<seed>``.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

CELL_TYPES = ("T cell", "B cell", "NK cell", "Monocyte")
TISSUES = ("blood", "spleen")


def make_synthetic(n_cells: int = 400, n_genes: int = 200, seed: int = 0, n_program: int = 10,
                   effect: float = 4.0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    n_types = len(CELL_TYPES)
    types = rng.integers(n_types, size=n_cells)
    stim = rng.random(n_cells) < 0.5
    genes = [f"IFN{j}" for j in range(n_program)] + [f"G{j}" for j in range(n_genes - n_program)]
    base = rng.gamma(0.3, 1.0, size=n_genes)  # background expression per gene
    rate = np.tile(base, (n_cells, 1))
    markers = np.array_split(np.arange(n_program, n_genes), n_types)
    for t in range(n_types):
        rate[np.ix_(types == t, markers[t][:15])] *= 8.0
    rate[np.ix_(stim, np.arange(n_program))] *= effect
    size = rng.lognormal(0, 0.3, size=(n_cells, 1))
    counts = rng.poisson(rate * size * rng.gamma(2.0, 0.5, size=rate.shape)).astype(np.float32)
    counts[:, n_program] += 1  # every cell expresses something
    donor = rng.integers(4, size=n_cells)
    obs = pd.DataFrame({
        "cell_type": [CELL_TYPES[t] for t in types],
        "tissue": [TISSUES[d % 2] for d in donor],
        "donor": [f"donor{d}" for d in donor],
        "batch": [f"batch{d // 2}" for d in donor],
        "condition": np.where(stim, "stimulated", "control"),
        "cluster": [str(t) for t in types],
    }, index=[f"cell{i}" for i in range(n_cells)])
    obs["caption"] = obs["cell_type"] + " cluster of an immune-cell sample"
    centres = rng.normal(0, 10, size=(n_types, 2))
    spatial = centres[types] + rng.normal(0, 1.5, size=(n_cells, 2))
    adata = ad.AnnData(sp.csr_matrix(counts), obs=obs, var=pd.DataFrame(index=genes))
    adata.obsm["spatial"] = spatial
    adata.uns["description"] = ("Synthetic immune cells from blood and spleen of four donors, half stimulated "
                                "with interferon, which induces the IFN gene program.")
    return adata
