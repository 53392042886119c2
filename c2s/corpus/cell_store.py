"""Cell sentences on disk: the conversion step streams row chunks of one or more AnnData
sources into a flat file of global gene ids, so nothing later holds all sentences in memory.

Files in the store directory (written under a temp name, then renamed):
- ``genes.bin``: (n_cells, top_k) gene ids in sentence order, uint16 (int32 if > 65,534 genes);
- ``store.npz``: lengths (uint16 per cell), kept source rows per file, gene names, gene counts.
"""

from __future__ import annotations

import logging
import mmap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from tqdm.auto import tqdm

from c2s.atomic import atomic_dir
from c2s.errors import C2SInputError

if TYPE_CHECKING:
    from c2s.io.sources import Source

log = logging.getLogger(__name__)
WINDOW = 16 << 20  # bytes of the store mapped at a time by take() in a store larger than RESIDENT
RESIDENT = 256 << 20  # a store up to this size stays mapped whole while read (1.3M cells at top_k 100): random
# rows (multi-cell samples, control pairs) then fault once per page, not once per row and call (measured at 1M
# cells, 4,096 random rows: 2-4 ms against 9-14 ms windowed)


@dataclass
class CellStore:
    """Read access to a converted store. Rows are kept cells in source order (files in turn)."""

    path: Path
    gene_names: np.ndarray  # (n_genes,) str, global gene id -> symbol
    gene_counts: np.ndarray  # int64 (n_genes,): occurrences in sentences
    lengths: np.ndarray  # uint16 (n_cells,)
    kept: list[np.ndarray]  # per source file: int64 rows kept (cells with an expressed gene)
    n_empty_dropped: int
    matrix_kind: str
    top_k: int
    _mm: mmap.mmap | None = field(default=None, init=False, repr=False, compare=False)  # RESIDENT's mapping

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_mm"} | {"_mm": None}

    @classmethod
    def open(cls, path: str | Path) -> "CellStore":
        path = Path(path)
        with np.load(path / "store.npz", allow_pickle=False) as z:
            n_files = int(z["n_files"])
            return cls(
                path,
                z["gene_names"].astype(object),
                z["gene_counts"],
                z["lengths"],
                [z[f"kept{i}"] for i in range(n_files)],
                int(z["n_empty_dropped"]),
                str(z["matrix_kind"]),
                int(z["top_k"]),
            )

    def __len__(self) -> int:
        return int(self.lengths.size)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint16 if self.gene_names.size < 65535 else np.int32)

    def take(self, rows: np.ndarray, k: int | None = None) -> np.ndarray:
        """Gene ids (len(rows), k) of ``rows`` (-1 past a cell's length)."""
        k = self.top_k if k is None else min(int(k), self.top_k)
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((rows.size, k), dtype=np.int32)

        def copy(arr: np.ndarray, seg: np.ndarray) -> None:
            out[seg] = arr[rows[seg], :k]

        self._by_window(rows, copy)
        if rows.size and len(self):
            out[np.arange(k)[None, :] >= self.lengths[rows].astype(np.int64)[:, None]] = -1
        return out

    def prefixes(self, rows: np.ndarray, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first ``ks[i]`` genes of each cell ``rows[i]`` (fewer where its sentence is shorter), ragged:
        (int64 offsets (len(rows) + 1,), int32 gene ids). What :meth:`take` then a mask would give, without
        the (rows, k) table."""
        from c2s.corpus.prefixes import gather_prefixes, prefix_offsets  # numba: loaded where rendering needs it

        rows = np.asarray(rows, dtype=np.int64)
        lens = self.lengths[rows].astype(np.int64) if rows.size else np.zeros(0, np.int64)
        off = prefix_offsets(np.minimum(np.asarray(ks, dtype=np.int64), lens))
        flat = np.empty(int(off[-1]), dtype=np.int32)
        self._by_window(rows, lambda arr, seg: gather_prefixes(arr, rows, seg, off, flat))
        return off, flat

    def _by_window(self, rows: np.ndarray, fn) -> None:
        """``fn(the store as a (cells, top_k) array, indices of rows)`` over every row in file order: at once for a
        RESIDENT store (its mapping kept until :meth:`release`), else one WINDOW of the file at a time (``fn``
        must not keep the array), dropping each window's pages after it: RSS stays within a window however
        scattered the rows (a batch of multi-cell samples touches cells all over the file, and the kernel maps
        whole page-cache folios)."""
        if rows.size == 0 or len(self) == 0:
            return
        row_bytes = self.top_k * self.dtype.itemsize
        order = np.argsort(rows)  # any order of equal rows will do: quicksort, 2.5x faster than stable here
        if len(self) * row_bytes <= RESIDENT:
            if self._mm is None:
                with open(self.path / "genes.bin", "rb") as f:
                    self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            arr = np.frombuffer(self._mm, dtype=self.dtype).reshape(len(self), self.top_k)
            fn(arr, order)
            return
        per_window = max(1, WINDOW // row_bytes)
        window = rows[order] // per_window
        cuts = np.flatnonzero(np.diff(window)) + 1
        with open(self.path / "genes.bin", "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                arr = np.frombuffer(mm, dtype=self.dtype).reshape(len(self), self.top_k)
                for seg in np.split(order, cuts):
                    fn(arr, seg)
                    lo = int(rows[seg[0]]) // per_window * per_window * row_bytes // mmap.PAGESIZE * mmap.PAGESIZE
                    mm.madvise(
                        mmap.MADV_DONTNEED, lo, min(len(mm), lo + (per_window + 1) * row_bytes + mmap.PAGESIZE) - lo
                    )
                del arr
            finally:
                mm.close()

    def release(self) -> None:
        """Drop this process's mapped pages of a RESIDENT store (they stay in the page cache, shared)."""
        if self._mm is not None:
            self._mm.madvise(mmap.MADV_DONTNEED)

    def genes(self, i: int, k: int | None = None) -> np.ndarray:
        """Gene symbols of cell ``i`` in sentence order (its first ``k``)."""
        ids = self.take(np.array([i]), k)[0]
        return self.gene_names[ids[ids >= 0]]

    def sentence(self, i: int, k: int | None = None) -> str:
        return " ".join(self.genes(i, k))

    def render(self, rows) -> list[str]:
        """Space-joined sentences of ``rows`` (small sets: tests, previews)."""
        return [self.sentence(int(i)) for i in rows]


def gene_union(sources: Sequence[Source]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Global gene names (first-seen order) and, per source, its column -> global id."""
    pos: dict[str, int] = {}
    maps = []
    for s in sources:
        maps.append(np.array([pos.setdefault(str(g), len(pos)) for g in s.gene_names], dtype=np.int64))
    return np.array(list(pos), dtype=object), maps


def convert(
    sources: Sequence[Source], top_k: int, out: str | Path, chunk_size: int = 4096, progress: bool = True
) -> CellStore:
    """Stream every source in row chunks into a store at ``out`` (reused if complete).

    Memory: one chunk, plus 2 bytes and one bool per cell (lengths, kept mask).
    """
    from c2s.sentences.topk import store_rows, topk_indices  # numba-compiled: loaded only to convert

    out = Path(out)
    if (out / "store.npz").is_file():
        return CellStore.open(out)
    names, maps = gene_union(sources)
    widest = max(s.n_vars for s in sources)
    if int(top_k) > widest:  # the README's rule: clamped, with a warning
        log.warning("top_k=%d exceeds the %d genes in the matrix; using top_k=%d.", int(top_k), widest, widest)
    k = max(1, min(int(top_k), widest))
    dtype = np.uint16 if names.size < 65535 else np.int32
    with atomic_dir(out) as tmp:
        counts = np.zeros(names.size, dtype=np.int64)
        lengths, kept = [], []
        bar = tqdm(total=sum(s.n_obs for s in sources), unit="cell", desc="cell sentences", disable=not progress)
        with open(tmp / "genes.bin", "wb") as f:
            for s, gmap in zip(sources, maps):
                keep_rows = []
                for start, stop, chunk in s.iter_chunks(chunk_size):
                    idx, lens = topk_indices(chunk, min(k, s.n_vars))
                    keep = lens > 0
                    ids = np.zeros((int(keep.sum()), k), dtype=dtype)
                    store_rows(idx, lens, gmap, ids, counts)  # empty cells dropped; global gene ids, counted
                    f.write(ids.tobytes())
                    lengths.append(lens[keep].astype(np.uint16))
                    keep_rows.append(np.flatnonzero(keep) + start)
                    bar.update(stop - start)
                kept.append(np.concatenate(keep_rows) if keep_rows else np.zeros(0, np.int64))
        bar.close()
        n_obs = sum(s.n_obs for s in sources)
        n_kept = sum(x.size for x in kept)
        if n_obs - n_kept:
            log.warning("Dropped %d of %d cells with no expressed genes.", n_obs - n_kept, n_obs)
        kinds = sorted({s.kind for s in sources})
        np.savez(
            tmp / "store.npz",
            gene_names=names.astype(str),
            gene_counts=counts,
            lengths=np.concatenate(lengths) if lengths else np.zeros(0, np.uint16),
            n_files=np.int64(len(kept)),
            n_empty_dropped=np.int64(n_obs - n_kept),
            matrix_kind=np.str_("+".join(kinds)),
            top_k=np.int64(k),
            **{f"kept{i}": x for i, x in enumerate(kept)},
        )
    if n_kept == 0:
        raise C2SInputError("No cell expresses any gene: the matrix is empty. Check data.layer / data.use_raw.")
    return CellStore.open(out)
