"""AnnData -> cell sentences, stored as int32 gene indices and rendered to text on demand."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
from tqdm.auto import tqdm

from c2s.atomic import atomic_path
from c2s.errors import C2SInputError
from c2s.io.sources import Source, open_source
from c2s.sentences.topk import topk_indices

log = logging.getLogger(__name__)


@dataclass
class CellSentences:
    """Cell sentences of one matrix.

    Attributes:
        indices: int32 (n_cells, top_k), gene column indices in sentence order, -1 padded.
        lengths: int32 (n_cells,), valid entries per row (fewer than top_k if a cell
            expresses fewer genes).
        cell_ids: (n_cells,) obs names of the kept cells (empty cells are dropped).
        rows: int64 (n_cells,), positions of the kept cells in the source AnnData.
        gene_names: (n_genes,) unique gene symbols, one per matrix column.
        n_empty_dropped: cells dropped because they express no gene.
        matrix_kind: ``counts`` or ``lognorm``: what the source matrix held.
    """

    indices: np.ndarray
    lengths: np.ndarray
    cell_ids: np.ndarray
    rows: np.ndarray
    gene_names: np.ndarray
    n_empty_dropped: int
    matrix_kind: str

    def __len__(self) -> int:
        return int(self.lengths.size)

    @property
    def top_k(self) -> int:
        return int(self.indices.shape[1])

    def genes(self, i: int, k: int | None = None) -> np.ndarray:
        """Gene symbols of cell ``i`` in sentence order (the first ``k`` if given)."""
        n = self.lengths[i] if k is None else min(int(k), int(self.lengths[i]))
        return self.gene_names[self.indices[i, :n]]

    def sentence(self, i: int, k: int | None = None) -> str:
        """Space-joined sentence of cell ``i`` (its first ``k`` genes if given)."""
        return " ".join(self.genes(i, k))

    def render(self, rows: np.ndarray | None = None) -> list[str]:
        """Space-joined sentences for ``rows`` (all cells by default)."""
        rows = range(len(self)) if rows is None else rows
        return [self.sentence(i) for i in rows]

    def save(self, path: str | Path) -> None:
        """Write an ``.npz`` atomically (indices stay int32; names as unicode arrays)."""
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(
                tmp,
                indices=self.indices,
                lengths=self.lengths,
                cell_ids=self.cell_ids.astype(str),
                rows=self.rows,
                gene_names=self.gene_names.astype(str),
                n_empty_dropped=np.int64(self.n_empty_dropped),
                matrix_kind=np.str_(self.matrix_kind),
            )

    @classmethod
    def load(cls, path: str | Path) -> "CellSentences":
        with np.load(path, allow_pickle=False) as z:
            return cls(
                indices=z["indices"],
                lengths=z["lengths"],
                cell_ids=z["cell_ids"].astype(object),
                rows=z["rows"],
                gene_names=z["gene_names"].astype(object),
                n_empty_dropped=int(z["n_empty_dropped"]),
                matrix_kind=str(z["matrix_kind"]),
            )


def _check_top_k(top_k: int | None, n_vars: int) -> int:
    if top_k is None:
        return n_vars
    if int(top_k) < 1:
        raise C2SInputError(f"top_k must be a positive integer (or None for all genes), got {top_k}.")
    if top_k > n_vars:
        log.warning("top_k=%d exceeds the %d genes in the matrix; using top_k=%d.", top_k, n_vars, n_vars)
        return n_vars
    return int(top_k)


def sentences_from_source(
    source: Source, top_k: int | None = 100, chunk_size: int = 512, progress: bool = False
) -> CellSentences:
    """Stream ``source`` in row chunks and keep each cell's top-``top_k`` genes.

    Memory is bounded by one chunk plus the int32 output (n_cells × top_k × 4 bytes).
    """
    k = _check_top_k(top_k, source.n_vars)
    parts_idx, parts_len, parts_keep = [], [], []
    bar = tqdm(total=source.n_obs, unit="cell", desc="cell sentences", disable=not progress)
    for start, stop, chunk in source.iter_chunks(chunk_size):
        idx, lengths = topk_indices(chunk, k)
        keep = lengths > 0
        parts_idx.append(idx[keep])
        parts_len.append(lengths[keep])
        parts_keep.append(np.flatnonzero(keep) + start)
        bar.update(stop - start)
    bar.close()
    kept = np.concatenate(parts_keep) if parts_keep else np.zeros(0, dtype=np.int64)
    n_empty = source.n_obs - kept.size
    if n_empty:
        log.warning("Dropped %d of %d cells with no expressed genes.", n_empty, source.n_obs)
    return CellSentences(
        indices=np.concatenate(parts_idx) if parts_idx else np.zeros((0, k), np.int32),
        lengths=np.concatenate(parts_len) if parts_len else np.zeros(0, np.int32),
        cell_ids=source.cell_ids(kept).to_numpy(zero_copy_only=False),
        rows=kept,
        gene_names=source.gene_names,
        n_empty_dropped=int(n_empty),
        matrix_kind=source.kind,
    )


def cell_sentence_indices(
    adata: ad.AnnData | str | Path,
    top_k: int | None = 100,
    layer: str | None = None,
    use_raw: bool = False,
    *,
    gene_key: str | None = None,
    matrix_kind: str = "auto",
    backed: bool = False,
    chunk_size: int = 512,
    progress: bool = False,
) -> CellSentences:
    """Array variant for pipelines: int32 gene indices per cell (see :class:`CellSentences`).

    ``adata`` may be an AnnData (in memory or backed), an ``.h5ad`` path (streamed when ``backed=True``) or
    any data path of c2s.io.sources (``scanpy:pbmc68k_reduced``). ``top_k=None`` keeps every expressed gene.
    """
    source = open_source(adata, layer=layer, use_raw=use_raw, gene_key=gene_key, matrix_kind=matrix_kind, backed=backed)
    return sentences_from_source(source, top_k=top_k, chunk_size=chunk_size, progress=progress)


def cell_sentences(
    adata: ad.AnnData | str | Path,
    top_k: int | None = 100,
    layer: str | None = None,
    use_raw: bool = False,
    **kwargs,
) -> list[str]:
    """Space-joined top-``top_k`` gene names per expressed cell, highest expression first.

    Cells with no expressed gene are dropped (see ``cell_sentence_indices(...).cell_ids``
    for which cells are kept). Keyword arguments go to :func:`cell_sentence_indices`.
    """
    return cell_sentence_indices(adata, top_k=top_k, layer=layer, use_raw=use_raw, **kwargs).render()
