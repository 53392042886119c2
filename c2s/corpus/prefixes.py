"""Ragged sentence prefixes gathered from the store's rows (numba): the gene lists a batch of examples shows."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def gather_prefixes(arr, rows, seg, off, flat):
    """For each i in ``seg``: ``flat[off[i]:off[i + 1]] = arr[rows[i], :off[i + 1] - off[i]]``.
    ``arr``: (n_cells, top_k) gene ids; ``off``: int64 (len(rows) + 1,). Indices are cast to unsigned: numba
    then skips the negative-index wraparound on every access (see c2s.data.assemble)."""
    U = numba.uint64
    for i in seg:
        r, a = U(rows[U(i)]), U(off[U(i)])
        n = U(off[U(i) + U(1)]) - a
        for j in range(n):
            flat[a + U(j)] = arr[r, U(j)]


def prefix_offsets(counts: np.ndarray) -> np.ndarray:
    """int64 offsets (n + 1,) of ragged rows of ``counts`` items."""
    off = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=off[1:])
    return off
