"""Gene sets for the gene-set tasks: from a GMT file, or marker genes derived from the data."""

from __future__ import annotations

import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from c2s.errors import C2SInputError

log = logging.getLogger(__name__)


def read_gmt(path: str | Path, vocabulary: set[str], min_genes: int = 3) -> dict[str, list[str]]:
    """GMT (name <tab> description <tab> gene …) → {name: genes in ``vocabulary``}.

    Genes absent from the data are dropped; sets left with fewer than ``min_genes`` are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise C2SInputError(f"Gene-set file not found: {path}. Set data.gene_sets_gmt to a GMT file or null.")
    sets: dict[str, list[str]] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3:
            raise C2SInputError(f"{path}:{n}: a GMT line needs name, description and genes separated by tabs.")
        genes = [g for g in dict.fromkeys(parts[2:]) if g in vocabulary]
        if len(genes) >= min_genes:
            sets[parts[0]] = genes
    log.info("Read %d gene sets with >= %d genes in the data from %s.", len(sets), min_genes, path)
    return sets


def marker_gene_sets(
    expression: ad.AnnData, labels: pd.Series, n_genes: int = 20, min_cells: int = 3
) -> dict[str, list[str]]:
    """Marker genes per label with scanpy ``rank_genes_groups`` (t-test), named "<label> markers".

    ``expression`` holds log-normalised values with gene symbols as ``var_names``.
    Labels with fewer than ``min_cells`` cells are skipped.
    """
    import scanpy as sc

    counts = labels.value_counts()
    keep_labels = counts.index[counts >= min_cells]
    if len(keep_labels) < 2:
        return {}
    mask = labels.isin(keep_labels).to_numpy()
    sub = ad.AnnData(expression.X[mask], var=pd.DataFrame(index=expression.var_names))
    sub.obs["label"] = pd.Categorical(labels.to_numpy()[mask].astype(str))
    sub.uns["log1p"] = {"base": None}
    sc.tl.rank_genes_groups(sub, "label", method="t-test", n_genes=n_genes, use_raw=False)
    names = sub.uns["rank_genes_groups"]["names"]
    return {f"{g} markers": [str(x) for x in np.asarray(names[g])] for g in names.dtype.names}
