"""Gene sets for the gene-set tasks: from a GMT file, or marker genes derived from the data."""

from __future__ import annotations

import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

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
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise C2SInputError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): data.gene_sets_gmt takes a GMT text file "
            "(name<TAB>description<TAB>genes…)."
        ) from None
    for n, line in enumerate(text.splitlines(), 1):
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
    """Marker genes per label, named "<label> markers": scanpy ``rank_genes_groups(method="t-test")``
    (Welch's t of each label against all other cells, top ``n_genes`` by score; ties: lower
    gene index first), computed with sparse sums for all labels at once. Equal to scanpy's
    (tested); written out because importing scanpy cost 1.2 of the 7 s plan step at 200k cells.

    ``expression`` holds log-normalised values (cells × genes) with gene symbols as ``var_names``.
    Labels with fewer than ``min_cells`` cells are skipped.
    """
    counts = labels.value_counts()
    keep = np.sort(np.asarray(counts.index[counts >= min_cells], dtype=str))
    if keep.size < 2:
        return {}
    lab = labels.to_numpy().astype(str)
    mask = np.isin(lab, keep)
    x = sp.csr_matrix(expression.X[mask], dtype=np.float64)
    group = np.searchsorted(keep, lab[mask])
    onehot = sp.csr_matrix((np.ones(group.size), (group, np.arange(group.size))), shape=(keep.size, group.size))
    n = np.bincount(group, minlength=keep.size).astype(np.float64)[:, None]
    s1, s2 = np.asarray((onehot @ x).todense()), np.asarray((onehot @ x.multiply(x)).todense())
    n_rest, r1, r2 = group.size - n, s1.sum(0) - s1, s2.sum(0) - s2
    mean, mean_rest = s1 / n, r1 / n_rest
    var = (s2 - n * mean**2) / (n - 1)
    var_rest = (r2 - n_rest * mean_rest**2) / (n_rest - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (mean - mean_rest) / np.sqrt(var / n + var_rest / n_rest)
    scores[~np.isfinite(scores)] = 0.0
    names = np.asarray(expression.var_names, dtype=str)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :n_genes]
    return {f"{g} markers": [str(x) for x in names[t]] for g, t in zip(keep, top)}
