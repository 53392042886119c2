"""Open an AnnData (path, in memory or backed), pick its matrix, and stream checked,
log-normalised CSR row chunks.

This module and :mod:`c2s.io.h5ad_parts` (a backed file's parts) are the only places that know
AnnData's layout; later stages see row chunks, obs columns, gene symbols and cell ids.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

import anndata as ad
import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
from anndata.abc import CSCDataset

from c2s.errors import C2SInputError
from c2s.io.gene_names import resolve_gene_names
from c2s.io.h5ad_parts import H5adParts
from c2s.io.h5ad_structure import check_file, check_rows
from c2s.io.matrix_checks import KINDS, check_chunk, check_consistent, detect_kind

log = logging.getLogger(__name__)

DETECT_ROWS = 1000


def read_h5ad(data: str | Path, backed: bool = False) -> ad.AnnData:
    """An ``.h5ad`` file as an AnnData; ``backed=True`` opens it read-only without loading the matrix. (Other
    sources by scheme: c2s.io.sources.load_anndata.)"""
    path = h5ad_path(str(data))
    try:
        check_file(path, backed)  # a shape the arrays do not back would make anndata allocate by it
        return ad.read_h5ad(path, backed="r" if backed else None)
    except C2SInputError:
        raise
    except Exception as exc:  # h5py/anndata raise many types for broken files
        raise _unreadable(path, exc) from exc


def h5ad_path(text: str) -> Path:
    """The existing ``.h5ad`` file named by ``text``, or an error that says what to give instead."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise C2SInputError(
            f"{path} is a directory, and this step reads one .h5ad file. Give a file (train.py and "
            "prepare take a directory or glob of .h5ad files as one dataset)."
        )
    if not path.is_file():
        raise C2SInputError(f"No such h5ad file: {path}. Check data.path (relative paths are from the working dir).")
    return path


def _unreadable(path: Path, exc: Exception) -> C2SInputError:
    return C2SInputError(
        f"{path} could not be read as an h5ad file ({type(exc).__name__}: {exc}). "
        "It may be truncated or not written by anndata: re-export it with adata.write_h5ad()."
    )


def _open_parts(data: Any, backed: bool) -> Any:
    """A backed .h5ad path read part by part (see c2s.io.h5ad_parts), or a parts object given as it is (a SOMA
    query: c2s.io.soma); None for anything else."""
    if hasattr(data, "matrix") and hasattr(data, "obs_column"):
        return data
    if not backed or isinstance(data, ad.AnnData):
        return None
    path = h5ad_path(str(data))
    try:
        return H5adParts.open(path)
    except Exception as exc:
        raise _unreadable(path, exc) from exc


class ExpressionSource:
    """A checked view of one expression matrix of an AnnData, read in row chunks.

    Args:
        data: AnnData or ``.h5ad`` path (other sources: ``c2s.io.sources.open_source``).
        layer: name of a layer to use instead of ``X``.
        use_raw: use ``adata.raw`` (its ``X`` and ``var``).
        gene_key: ``var`` column holding gene symbols; ``None`` uses ``var_names``.
        matrix_kind: ``auto`` (detect), ``counts`` or ``lognorm`` (skip detection).
        backed: read a path's matrix in row chunks and its metadata part by part (bounded
            memory; see :mod:`c2s.io.h5ad_parts`).
        upper_case: upper-case gene names (the c2s_scale prompt format).
    """

    def __init__(
        self,
        data: str | Path | ad.AnnData,
        *,
        layer: str | None = None,
        use_raw: bool = False,
        gene_key: str | None = None,
        matrix_kind: str = "auto",
        backed: bool = False,
        upper_case: bool = False,
    ) -> None:
        if matrix_kind not in KINDS:
            raise C2SInputError(f"matrix_kind={matrix_kind!r} is not one of {KINDS}.")
        if layer is not None and use_raw:
            raise C2SInputError("Set either layer or use_raw, not both.")
        self._parts = _open_parts(data, backed)
        self.adata = (
            None if self._parts is not None else data if isinstance(data, ad.AnnData) else read_h5ad(data, backed)
        )
        self.where = "adata.raw.X" if use_raw else f"adata.layers[{layer!r}]" if layer is not None else "adata.X"
        if hasattr(self._parts, "where_of"):
            self.where = self._parts.where_of(layer, use_raw)
        if use_raw and not self._has_raw:
            raise C2SInputError(f"use_raw=True but this AnnData has no .raw. {self._alternatives()}")
        if layer is not None and layer not in self._layers:
            raise C2SInputError(f"Layer {layer!r} not found. Available layers: {self._layers}. {self._alternatives()}")
        if self._parts is not None:
            self._m, var = self._parts.matrix(layer, use_raw)
            var_names = var.index
        else:
            adata = self.adata
            self._m, var, var_names = (
                (adata.raw.X, adata.raw.var, adata.raw.var_names)
                if use_raw
                else (adata.layers[layer] if layer is not None else adata.X, adata.var, adata.var_names)
            )
        if self._m is None:
            raise C2SInputError(f"{self.where} is empty (None). {self._alternatives()}")
        if sp.issparse(self._m) and not sp.isspmatrix_csr(self._m) and not isinstance(self._m, sp.csr_array):
            log.warning("%s is %s; converting to CSR for row access (one copy).", self.where, type(self._m).__name__)
            self._m = sp.csr_matrix(self._m)
        elif isinstance(self._m, CSCDataset):  # anndata's backed CSC
            # each row chunk of a column-major file reads every column: quadratic in cells
            # (measured 0.05 s at 20k cells, 0.42 s at 80k), so read it once
            log.warning(
                "%s is stored column-major (CSC): row chunks would re-read the whole matrix, so it is "
                "loaded once as CSR (memory grows with it). For bounded memory, re-save it as CSR: "
                "adata.X = adata.X.tocsr(); adata.write_h5ad(path).",
                self.where,
            )
            self._m = sp.csr_matrix(self._m.to_memory())
        self.gene_names = resolve_gene_names(var, var_names, gene_key, upper_case)
        self.kind = matrix_kind if matrix_kind != "auto" else self._detect()

    def close(self) -> None:
        """Close a backed file (it is reopened if read again); nothing for an in-memory AnnData."""
        if self._parts is not None:
            self._parts.close()

    @property
    def _has_raw(self) -> bool:
        return self._parts.has_raw if self._parts is not None else self.adata.raw is not None

    @property
    def _layers(self) -> list[str]:
        return self._parts.layers if self._parts is not None else sorted(self.adata.layers.keys())

    @property
    def obs_keys(self) -> list[str]:
        return self._parts.obs_keys if self._parts is not None else [str(k) for k in self.adata.obs.columns]

    def obs_column(self, key: str) -> pd.Series:
        """One obs column, all rows (a backed file reads only this column)."""
        return self._parts.obs_column(key) if self._parts is not None else self.adata.obs[key]

    def cell_ids(self, rows: np.ndarray) -> pa.Array:
        """Obs names of the sorted positions ``rows``, as an Arrow string array."""
        if self._parts is not None:
            return self._parts.cell_ids(rows)
        return pa.array(np.asarray(self.adata.obs_names)[rows].astype(str), pa.string())

    def obsm(self, key: str) -> np.ndarray | None:
        """``obsm[key]`` (all rows), or None when absent."""
        if self._parts is not None:
            return self._parts.obsm(key)
        return self.adata.obsm[key] if key in self.adata.obsm else None

    def uns(self, key: str) -> Any:
        """``uns[key]``, or None when absent."""
        return self._parts.uns(key) if self._parts is not None else self.adata.uns.get(key)

    @property
    def n_obs(self) -> int:
        return int(self._m.shape[0])

    @property
    def n_vars(self) -> int:
        return int(self._m.shape[1])

    def _alternatives(self) -> str:
        options = (["use_raw=True (adata.raw)"] if self._has_raw else []) + [f"layer={n!r}" for n in self._layers]
        return (
            ("Other matrices in this AnnData: " + ", ".join(options) + ".")
            if options
            else ("This AnnData has no .raw and no layers to fall back on.")
        )

    def _raw_rows(self, start: int, stop: int) -> sp.csr_matrix:
        m = self._m
        if isinstance(m, (sp.csr_matrix, sp.csr_array)):
            return csr_row_view(m, start, stop)
        chunk = m[start:stop]
        if not sp.issparse(chunk):
            chunk = sp.csr_matrix(np.asarray(chunk))
        return sp.csr_matrix(chunk)

    def _detect(self) -> str:
        chunk = self._raw_rows(0, min(self.n_obs, DETECT_ROWS))
        kind = detect_kind(chunk, self.where, self._alternatives())
        log.info("%s detected as %s", self.where, kind)
        return kind

    def _prepare(self, chunk: sp.csr_matrix, start: int, stop: int) -> sp.csr_matrix:
        check_rows(chunk.indices, self.n_vars, f"{self.where} (rows {start}:{stop})")
        if chunk.dtype == np.float16:  # numpy and numba lack float16 arithmetic here; float32 holds it exactly
            chunk = chunk.astype(np.float32)
        n_frac = check_chunk(chunk, f"{self.where} (rows {start}:{stop})", self._alternatives())
        check_consistent(n_frac, self.kind, self.where, f"{start}:{stop}")
        if self.kind == "counts":
            chunk = lognormalise_counts(chunk)
        elif chunk.dtype not in (np.float32, np.float64):
            chunk = chunk.astype(np.float32)
        return chunk

    def iter_chunks(self, chunk_size: int = 512) -> Iterator[tuple[int, int, sp.csr_matrix]]:
        """Yield ``(start, stop, csr)``: log-normalised rows ``start:stop``, shape (rows, n_vars)."""
        if chunk_size < 1:
            raise C2SInputError(f"chunk_size must be >= 1, got {chunk_size}.")
        for start in range(0, self.n_obs, chunk_size):
            stop = min(start + chunk_size, self.n_obs)
            yield start, stop, self._prepare(self._raw_rows(start, stop), start, stop)

    def read_rows(self, rows: np.ndarray) -> sp.csr_matrix:
        """Log-normalised rows at sorted integer positions ``rows``, shape (len(rows), n_vars)."""
        rows = np.sort(np.asarray(rows, dtype=np.int64))
        chunk = self._m[rows]
        chunk = sp.csr_matrix(chunk if sp.issparse(chunk) else np.asarray(chunk))
        return self._prepare(chunk, int(rows[0]) if rows.size else 0, int(rows[-1]) + 1 if rows.size else 0)


def csr_row_view(m: sp.csr_matrix | sp.csr_array, start: int, stop: int) -> sp.csr_matrix:
    """Rows ``start:stop`` of an in-memory CSR matrix sharing its data (no copy).

    Built by attribute assignment because scipy's constructor "prunes" (copies) arrays that
    are views into a larger buffer: that copy was half the run time on a 20k × 20k matrix.
    """
    lo, hi = m.indptr[start], m.indptr[stop]
    view = sp.csr_matrix((stop - start, m.shape[1]), dtype=m.dtype)
    view.data, view.indices, view.indptr = m.data[lo:hi], m.indices[lo:hi], m.indptr[start : stop + 1] - lo
    return view


def lognormalise_counts(chunk: sp.csr_matrix, target_sum: float = 1e4) -> sp.csr_matrix:
    """scanpy ``normalize_total(target_sum)`` + ``log1p`` on a row chunk (float32; equal to
    scanpy's within 1e-6, tested). Written out because importing scanpy and wrapping every
    chunk in an AnnData cost 1.9 of the 6.1 s plan step at 200k cells.

    Both steps act per row, so chunking gives exactly the whole-matrix result.
    All-zero rows (empty cells) stay zero; they are dropped later and counted.
    """
    x = sp.csr_matrix(chunk, dtype=np.float32, copy=True)
    x.sum_duplicates()
    totals = np.asarray(x.sum(axis=1, dtype=np.float64)).ravel()
    scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
    x.data *= np.repeat(scale, np.diff(x.indptr)).astype(np.float32)
    np.log1p(x.data, out=x.data)
    return x
