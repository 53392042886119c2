"""Resolve the gene symbols that become the words of cell sentences.

Rules (documented in README "Input checks"):
- Symbols come from ``var_names`` or from the ``var`` column named by ``gene_key``.
- Names that look like Ensembl IDs are refused unless a symbol column is chosen,
  because a model trained on IDs cannot share vocabulary with other datasets.
- Duplicated symbols are made unique the way ``AnnData.var_names_make_unique`` does
  (second ``GENE`` becomes ``GENE-1``), so every word maps back to exactly one column.
- Case is kept as given (mouse ``Cd3e`` and human ``CD3E`` differ), unless ``upper_case`` (the
  ``c2s_scale`` prompt format, as the released C2S-Scale models were trained): then ``Cd3e``
  becomes ``CD3E``; names that collide only by case are made unique as below, with a warning.
- A sentence is space-separated, so whitespace inside a name (``HLA DRA``, tabs, newlines) would
  split one gene into unknown words: it becomes ``_`` (``HLA_DRA``), with a warning naming them.
- Number-like names (``1``, ``100``) would collide with numbers in prompts: they become
  ``gene_1``; when most names are numbers (a row index, not symbols) they are refused.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict

import numpy as np
import pandas as pd

from c2s.errors import C2SInputError

log = logging.getLogger(__name__)

_ENSEMBL = re.compile(r"^ENS[A-Z]*G\d{6,}(\.\d+)?$")
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_SYMBOL_COLUMNS = ("gene_symbols", "gene_symbol", "gene_name", "gene_names", "feature_name", "symbol")
_RESOLVED: OrderedDict[tuple, tuple] = OrderedDict()  # input -> (names, log records): the last few
_KEEP = 8  # the files of an atlas mostly share one gene list: resolving it took 4.8 ms a file


def looks_like_ensembl(names: pd.Index | np.ndarray) -> bool:
    """True when most names (> 50%) match the Ensembl gene ID pattern (ENSG…, ENSMUSG…)."""
    names = np.asarray(names, dtype=str)
    if names.size == 0:
        return False
    sample = names[:: max(1, names.size // 2000)]
    hits = sum(bool(_ENSEMBL.match(n)) for n in sample)
    return hits > 0.5 * len(sample)


def _examples(before: np.ndarray, after: np.ndarray, n: int = 5) -> str:
    shown = ", ".join(f"{b!r} -> {a!r}" for b, a in zip(before[:n], after[:n]))
    return shown + (f" and {before.size - n} more" if before.size > n else "")


def map_unsafe_names(names: np.ndarray, source: str) -> np.ndarray:
    """Whitespace inside names -> ``_``; number-like names -> ``gene_<name>``; both logged, naming
    the genes. Raises when most names are numbers (the symbols are missing, not just odd)."""
    s = pd.Series(names, dtype=object).astype(str)
    numeric = s.str.strip().str.match(_NUMBER).to_numpy()
    if numeric.sum() > 0.5 * len(s):
        raise C2SInputError(
            f"{int(numeric.sum())} of {len(s)} gene names in {source} are numbers (e.g. {s.iloc[0]!r}): "
            "that is a row index, not gene symbols. Set gene_key to the var column with symbols."
        )
    spaced = s.str.contains(r"\s", regex=True).to_numpy()
    out = s.copy()
    if spaced.any():
        out[spaced] = s[spaced].str.strip().str.replace(r"\s+", "_", regex=True)
        log.warning(
            "%d gene names in %s contain whitespace, which would split them into several words; renamed: %s.",
            int(spaced.sum()),
            source,
            _examples(s[spaced].to_numpy(), out[spaced].to_numpy()),
        )
    if numeric.any():
        out[numeric] = "gene_" + out[numeric].str.strip()
        log.warning(
            "%d gene names in %s are numbers, which would read as numbers in prompts; renamed: %s.",
            int(numeric.sum()),
            source,
            _examples(s[numeric].to_numpy(), out[numeric].to_numpy()),
        )
    return out.to_numpy(dtype=object)


def make_unique(names: np.ndarray) -> tuple[np.ndarray, int]:
    """Suffix repeated names ``-1``, ``-2``…; return (unique names, number renamed)."""
    index = pd.Index(np.asarray(names, dtype=str))
    if index.is_unique:
        return index.to_numpy(dtype=object), 0
    # Same convention as anndata.utils.make_index_unique, without mutating any AnnData.
    from anndata.utils import make_index_unique

    unique = make_index_unique(index, join="-")
    return unique.to_numpy(dtype=object), int(index.duplicated().sum())


def resolve_gene_names(
    var: pd.DataFrame, var_names: pd.Index, gene_key: str | None, upper_case: bool = False
) -> np.ndarray:
    """Return one unique symbol per column of the expression matrix, as an object array
    (upper-cased when ``upper_case``).

    Raises :class:`C2SInputError` for a missing ``gene_key`` column, empty names, or Ensembl IDs
    with no symbol column chosen. A list resolved before (same names, key and case) is taken
    from a small cache, its warnings logged again.
    """
    raw = var[gene_key] if gene_key is not None and gene_key in var.columns else var_names
    digest = hashlib.blake2b("\x00".join(map(str, raw)).encode() + np.asarray(pd.isna(raw)).tobytes(), digest_size=16)
    key = (gene_key, upper_case, len(raw), digest.digest())
    if key in _RESOLVED:
        _RESOLVED.move_to_end(key)
        out, records = _RESOLVED[key]
        for r in records:
            log.handle(r)
        return out.copy()
    keep = _Records()
    log.addHandler(keep)
    try:
        out = _resolve(var, var_names, gene_key, upper_case)
    finally:
        log.removeHandler(keep)
    _RESOLVED[key] = (out, keep.records)
    while len(_RESOLVED) > _KEEP:
        _RESOLVED.popitem(last=False)
    return out.copy()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _resolve(var: pd.DataFrame, var_names: pd.Index, gene_key: str | None, upper_case: bool) -> np.ndarray:
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
            f"{source} look like Ensembl gene IDs (e.g. {names[0]!r}); cell sentences need gene symbols. " + hint
        )

    names = map_unsafe_names(names, source)
    if upper_case:
        names = np.array([n.upper() for n in names], dtype=object)
    unique, n_renamed = make_unique(names)
    if n_renamed:
        log.warning(
            "%d duplicated gene symbols in %s were made unique with -1, -2 suffixes (as var_names_make_unique does).",
            n_renamed,
            source,
        )
    return unique
