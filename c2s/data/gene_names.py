"""Resolve the gene symbols that become the words of cell sentences.

Rules (documented in README "Input checks"):
- Symbols come from ``var_names`` or from the ``var`` column named by ``gene_key``.
- Names that look like Ensembl IDs are refused unless a symbol column is chosen,
  because a model trained on IDs cannot share vocabulary with other datasets.
- Duplicated symbols are made unique the way ``AnnData.var_names_make_unique`` does
  (second ``GENE`` becomes ``GENE-1``), so every word maps back to exactly one column.
- Case is kept as given (mouse ``Cd3e`` and human ``CD3E`` differ); nothing is upper-cased.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from c2s.errors import C2SInputError

log = logging.getLogger(__name__)

_ENSEMBL = re.compile(r"^ENS[A-Z]*G\d{6,}(\.\d+)?$")
_SYMBOL_COLUMNS = ("gene_symbols", "gene_symbol", "gene_name", "gene_names", "feature_name", "symbol")


def looks_like_ensembl(names: pd.Index | np.ndarray) -> bool:
    """True when most names (> 50%) match the Ensembl gene ID pattern (ENSG…, ENSMUSG…)."""
    names = np.asarray(names, dtype=str)
    if names.size == 0:
        return False
    sample = names[:: max(1, names.size // 2000)]
    hits = sum(bool(_ENSEMBL.match(n)) for n in sample)
    return hits > 0.5 * len(sample)


def make_unique(names: np.ndarray) -> tuple[np.ndarray, int]:
    """Suffix repeated names ``-1``, ``-2``…; return (unique names, number renamed)."""
    index = pd.Index(np.asarray(names, dtype=str))
    if index.is_unique:
        return index.to_numpy(dtype=object), 0
    # Same convention as anndata.utils.make_index_unique, without mutating any AnnData.
    from anndata.utils import make_index_unique

    unique = make_index_unique(index, join="-")
    return unique.to_numpy(dtype=object), int(index.duplicated().sum())


def resolve_gene_names(var: pd.DataFrame, var_names: pd.Index, gene_key: str | None) -> np.ndarray:
    """Return one unique symbol per column of the expression matrix, as an object array.

    Raises :class:`C2SInputError` for a missing ``gene_key`` column, empty names, or Ensembl IDs
    with no symbol column chosen.
    """
    if gene_key is not None:
        if gene_key not in var.columns:
            raise C2SInputError(
                f"gene_key={gene_key!r} is not a column of adata.var. "
                f"Available columns: {sorted(map(str, var.columns))}. "
                "Set gene_key to one of them, or to null to use var_names."
            )
        names = var[gene_key]
        source = f"adata.var[{gene_key!r}]"
    else:
        names = pd.Series(var_names, index=var_names)
        source = "var_names"

    missing = names.isna() | (names.astype(str).str.strip() == "")
    if missing.any():
        raise C2SInputError(
            f"{int(missing.sum())} genes have an empty or missing name in {source}. "
            "Fill them (or drop those genes) before building cell sentences."
        )
    names = names.astype(str).to_numpy()

    if looks_like_ensembl(names):
        candidates = [c for c in var.columns if str(c).lower() in _SYMBOL_COLUMNS]
        hint = (
            f"adata.var has a likely symbol column: set gene_key={candidates[0]!r}."
            if candidates
            else "Map the IDs to gene symbols first (for example with a BioMart table) and put them in "
            "a var column, then set gene_key to that column."
        )
        raise C2SInputError(
            f"{source} look like Ensembl gene IDs (e.g. {names[0]!r}); cell sentences need gene symbols. "
            + hint
        )

    unique, n_renamed = make_unique(names)
    if n_renamed:
        log.warning(
            "%d duplicated gene symbols in %s were made unique with -1, -2 suffixes "
            "(as var_names_make_unique does).",
            n_renamed,
            source,
        )
    return unique
