"""Seeded synthetic AnnData with every kind of metadata the tasks use.

Integer counts (negative binomial-like) for ``n_types`` cell types, each with its own marker
genes; tissues, donors and batches; a ``condition`` column where ``stimulated`` cells up-regulate
an interferon-like gene program (genes ``IFN0..``) ×``effect``; clusters with captions; 2-D
spatial coordinates where cells of a type sit together. Load it as ``synthetic:<seed>``.
:func:`write_synthetic` streams the same kind of data for millions of cells straight into an
``.h5ad`` in row chunks (memory: one chunk).
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

CELL_TYPES = ("T cell", "B cell", "NK cell", "Monocyte")
TISSUES = ("blood", "spleen")
DESCRIPTION = (
    "Synthetic immune cells from blood and spleen of four donors, half stimulated "
    "with interferon, which induces the IFN gene program."
)


def _meta(rng: np.random.Generator, n_cells: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    types = rng.integers(len(CELL_TYPES), size=n_cells)
    stim = rng.random(n_cells) < 0.5
    donor = rng.integers(4, size=n_cells)
    ct = np.asarray(CELL_TYPES, dtype=object)[types]
    obs = pd.DataFrame(
        {
            "cell_type": ct,
            "tissue": np.asarray(TISSUES, dtype=object)[donor % 2],
            "donor": np.char.add("donor", donor.astype(str)).astype(object),
            "batch": np.char.add("batch", (donor // 2).astype(str)).astype(object),
            "condition": np.where(stim, "stimulated", "control").astype(object),
            "cluster": types.astype(str).astype(object),
        },
        index=np.char.add("cell", np.arange(offset, offset + n_cells).astype(str)).astype(object),
    )
    obs["caption"] = obs["cell_type"] + " cluster of an immune-cell sample"
    return types, stim, obs


def _counts(rng, types, stim, base, markers, n_program, effect) -> np.ndarray:
    rate = np.tile(base, (types.size, 1))
    for t in range(len(CELL_TYPES)):
        rate[np.ix_(types == t, markers[t][:15])] *= 8.0
    rate[np.ix_(stim, np.arange(n_program))] *= effect
    size = rng.lognormal(0, 0.3, size=(types.size, 1))
    counts = rng.poisson(rate * size * rng.gamma(2.0, 0.5, size=rate.shape)).astype(np.float32)
    counts[:, n_program] += 1  # every cell expresses something
    return counts


def make_synthetic(
    n_cells: int = 400, n_genes: int = 200, seed: int = 0, n_program: int = 10, effect: float = 4.0
) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    types = rng.integers(len(CELL_TYPES), size=n_cells)
    stim = rng.random(n_cells) < 0.5
    genes = [f"IFN{j}" for j in range(n_program)] + [f"G{j}" for j in range(n_genes - n_program)]
    base = rng.gamma(0.3, 1.0, size=n_genes)  # background expression per gene
    markers = np.array_split(np.arange(n_program, n_genes), len(CELL_TYPES))
    counts = _counts(rng, types, stim, base, markers, n_program, effect)
    donor = rng.integers(4, size=n_cells)
    obs = pd.DataFrame(
        {
            "cell_type": [CELL_TYPES[t] for t in types],
            "tissue": [TISSUES[d % 2] for d in donor],
            "donor": [f"donor{d}" for d in donor],
            "batch": [f"batch{d // 2}" for d in donor],
            "condition": np.where(stim, "stimulated", "control"),
            "cluster": [str(t) for t in types],
        },
        index=[f"cell{i}" for i in range(n_cells)],
    )
    obs["caption"] = obs["cell_type"] + " cluster of an immune-cell sample"
    centres = rng.normal(0, 10, size=(len(CELL_TYPES), 2))
    adata = ad.AnnData(sp.csr_matrix(counts), obs=obs, var=pd.DataFrame(index=genes))
    adata.obsm["spatial"] = centres[types] + rng.normal(0, 1.5, size=(n_cells, 2))
    adata.uns["description"] = DESCRIPTION
    return adata


def write_synthetic(
    path: str | Path,
    n_cells: int,
    n_genes: int = 2000,
    seed: int = 0,
    n_program: int = 10,
    effect: float = 4.0,
    chunk: int = 20_000,
) -> Path:
    """Stream a synthetic ``.h5ad`` of ``n_cells`` cells (same model as make_synthetic, with the
    background scaled so a cell expresses ~10% of genes); memory is one ``chunk`` of rows."""
    import h5py
    from anndata.io import sparse_dataset, write_elem

    rng = np.random.default_rng(seed)
    genes = [f"IFN{j}" for j in range(n_program)] + [f"G{j}" for j in range(n_genes - n_program)]
    base = rng.gamma(0.3, 0.15, size=n_genes)
    markers = np.array_split(np.arange(n_program, n_genes), len(CELL_TYPES))
    centres = rng.normal(0, 100, size=(len(CELL_TYPES), 2))
    obs_parts, spatial = [], []
    path = Path(path)
    with h5py.File(path, "w") as f:
        for start in range(0, n_cells, chunk):
            m = min(chunk, n_cells - start)
            types, stim, obs = _meta(rng, m, start)
            x = sp.csr_matrix(_counts(rng, types, stim, base, markers, n_program, effect))
            if start == 0:
                write_elem(f, "X", x)  # anndata makes sparse datasets resizable
            else:
                sparse_dataset(f["X"]).append(x)
            obs_parts.append(obs)
            spatial.append(centres[types] + rng.normal(0, 15, size=(m, 2)))
        obs = pd.concat(obs_parts)
        for c in obs.columns:
            obs[c] = obs[c].astype("category")
        write_elem(f, "obs", obs)
        write_elem(f, "var", pd.DataFrame(index=genes))
        write_elem(f, "obsm", {"spatial": np.concatenate(spatial)})
        write_elem(f, "uns", {"description": DESCRIPTION})
        for key in ("layers", "obsp", "varm", "varp"):
            write_elem(f, key, {})
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
    return path
