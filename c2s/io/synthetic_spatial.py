"""A synthetic spatial set in which neighbours really do share ligand–receptor expression (the interaction
ablation's control: on a panel without interacting genes no effect can exist).

Sections (``batch``) are square grids of cells. Each section is tiled into patches; a patch is given one of
``n_pairs`` ligand–receptor pairs ``L<p>``/``R<p>``, and its cells alternate in a checkerboard between senders
(``L<p>`` high) and receivers (``R<p>`` high), so a cell's four nearest neighbours express its pair's other half.
Cell types (with their marker genes) are drawn independently of space, so the composition of a neighbourhood says
nothing; only the pairs link neighbours. Integer counts; every gene also has a background rate.

``python -m c2s.io.synthetic_spatial <out_dir>`` writes ``spatial_lr.h5ad`` and ``pairs.csv`` (ligand,receptor).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

CELL_TYPES = ("Excitatory neuron", "Inhibitory neuron", "Astrocyte", "Oligodendrocyte")


def make_spatial_lr(
    n_sections: int = 8, side: int = 24, patch: int = 6, n_pairs: int = 16, n_genes: int = 120, seed: int = 0
) -> tuple[ad.AnnData, pd.DataFrame]:
    """(AnnData of n_sections * side^2 cells, its pair table). Genes: L0.., R0.., then G0.. background and
    markers (15 per cell type)."""
    rng = np.random.default_rng(seed)
    genes = [f"L{p}" for p in range(n_pairs)] + [f"R{p}" for p in range(n_pairs)]
    genes += [f"G{j}" for j in range(n_genes - len(genes))]
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    i, j = i.ravel(), j.ravel()
    per = side // patch
    n = n_sections * i.size
    section = np.repeat(np.arange(n_sections), i.size)
    pair = rng.integers(n_pairs, size=(n_sections, per * per))[
        section, np.tile((i // patch) * per + j // patch, n_sections)
    ]
    sender = np.tile((i + j) % 2 == 0, n_sections)
    types = rng.integers(len(CELL_TYPES), size=n)
    base = rng.gamma(0.5, 0.4, size=len(genes))
    base[: 2 * n_pairs] = 0.05  # L/R genes: near silent unless a cell's role turns them on
    rate = np.tile(base, (n, 1))
    markers = np.arange(2 * n_pairs, len(genes)).reshape(-1)[: 15 * len(CELL_TYPES)].reshape(len(CELL_TYPES), 15)
    for t in range(len(CELL_TYPES)):
        rate[np.ix_(types == t, markers[t])] *= 6.0
    lr_gene = np.where(sender, pair, n_pairs + pair)
    rate[np.arange(n), lr_gene] = rate.max(1) * 1.5  # in the top of the sentence
    counts = rng.poisson(rate * rng.lognormal(0, 0.2, size=(n, 1)) * 10).astype(np.float32)
    obs = pd.DataFrame(
        {
            "cell_type": np.asarray(CELL_TYPES, dtype=object)[types],
            "section": np.char.add("section", section.astype(str)).astype(object),
            "role": np.where(sender, "sender", "receiver").astype(object),
            "pair": np.char.add("P", pair.astype(str)).astype(object),
        },
        index=np.char.add("cell", np.arange(n).astype(str)).astype(object),
    )
    adata = ad.AnnData(sp.csr_matrix(counts), obs=obs, var=pd.DataFrame(index=genes))
    adata.obsm["spatial"] = np.c_[i, j].astype(np.float64)[np.tile(np.arange(i.size), n_sections)]
    adata.obsm["spatial"] += rng.normal(0, 0.05, size=adata.obsm["spatial"].shape)  # no exact distance ties
    adata.uns["description"] = "Synthetic tissue sections where neighbouring cells express ligand-receptor pairs."
    table = pd.DataFrame({"ligand": genes[:n_pairs], "receptor": genes[n_pairs : 2 * n_pairs]})
    return adata, table


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    adata, table = make_spatial_lr(seed=args.seed)
    adata.write_h5ad(out / "spatial_lr.h5ad.tmp")
    (out / "spatial_lr.h5ad.tmp").replace(out / "spatial_lr.h5ad")
    table.to_csv(out / "pairs.csv.tmp", index=False)
    (out / "pairs.csv.tmp").replace(out / "pairs.csv")
    print(f"{out / 'spatial_lr.h5ad'}: {adata.n_obs} cells x {adata.n_vars} genes; {out / 'pairs.csv'}: {len(table)}")


if __name__ == "__main__":
    main()
