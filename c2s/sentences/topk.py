"""Compiled top-K gene selection over CSR rows.

Ordering rule (the documented tie-break): genes are sorted by expression, descending;
equal values are ordered by gene column index, ascending. Only values > 0 count as
expressed. The rule depends only on (value, column) pairs, so it is the same for
dense or CSR input, sorted or unsorted CSR indices, and any global RNG state.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
from numba import njit, prange


@njit(cache=True, nogil=True)
def _row_topk(vals, cols, k, out):
    """Write the top-k columns of one row into ``out``; return how many were written."""
    n = 0
    for j in range(vals.size):
        if vals[j] > 0:
            n += 1
    if n == 0:
        return 0
    v = np.empty(n, dtype=vals.dtype)
    c = np.empty(n, dtype=np.int64)
    n = 0
    for j in range(vals.size):
        if vals[j] > 0:
            v[n] = vals[j]
            c[n] = cols[j]
            n += 1
    if n > k:
        # threshold = k-th largest value; keep everything above it, then the
        # lowest-column ties at it until k are kept.
        thr = -np.partition(-v, k - 1)[k - 1]
        n_above = 0
        for j in range(n):
            if v[j] > thr:
                n_above += 1
        ties = np.empty(n - n_above, dtype=np.int64)
        t = 0
        for j in range(n):
            if v[j] == thr:
                ties[t] = c[j]
                t += 1
        ties = ties[:t]
        need = k - n_above
        if need < t:
            last_col = np.partition(ties, need - 1)[need - 1]
        else:
            last_col = np.iinfo(np.int64).max
        sv = np.empty(k, dtype=vals.dtype)
        sc = np.empty(k, dtype=np.int64)
        m = 0
        for j in range(n):
            if v[j] > thr or (v[j] == thr and c[j] <= last_col):
                sv[m] = v[j]
                sc[m] = c[j]
                m += 1
        v, c, n = sv, sc, k
    # sort by column, then stable sort by descending value => (-value, column) order
    order = np.argsort(c)
    v = v[order]
    c = c[order]
    order = np.argsort(-v, kind="mergesort")
    for j in range(n):
        out[j] = c[order[j]]
    return n


@njit(parallel=True, cache=True)
def _csr_topk(indptr, indices, data, k, out, lengths):
    for i in prange(indptr.size - 1):
        s, e = indptr[i], indptr[i + 1]
        lengths[i] = _row_topk(data[s:e], indices[s:e], k, out[i])


def topk_indices(matrix: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` expressed genes per row of a non-negative CSR matrix.

    Returns ``(indices, lengths)``: int32 array (n_rows, k) of column indices in sentence
    order, padded with -1, and int32 (n_rows,) counts of valid entries (< k when a cell
    expresses fewer than k genes).
    """
    if not sp.issparse(matrix):
        matrix = sp.csr_matrix(np.asarray(matrix))
    matrix = sp.csr_matrix(matrix)
    data = matrix.data
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float32)
    out = np.full((matrix.shape[0], k), -1, dtype=np.int32)
    lengths = np.zeros(matrix.shape[0], dtype=np.int32)
    if matrix.shape[0]:
        _csr_topk(matrix.indptr, matrix.indices, data, k, out, lengths)
    return out, lengths


def set_threads(n: int | None) -> None:
    """Limit the compiled kernel to ``n`` threads (``None`` keeps numba's default)."""
    if n is not None:
        numba.set_num_threads(n)
