"""Compiled top-K gene selection over CSR rows.

Ordering rule (the documented tie-break): genes are sorted by expression, descending;
equal values are ordered by gene column index, ascending. Only values > 0 count as
expressed. The rule depends only on (value, column) pairs, so it is the same for
dense or CSR input, sorted or unsorted CSR indices, and any global RNG state.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit, prange


@njit(cache=True, nogil=True)
def _row_topk(vals, cols, k, out):
    """Write the top-k columns of one row into ``out``; return how many were written."""
    v = np.empty(vals.size, dtype=vals.dtype)
    c = np.empty(vals.size, dtype=np.int64)
    n = 0
    for j in range(vals.size):  # expressed entries only
        if vals[j] > 0:
            v[n] = vals[j]
            c[n] = cols[j]
            n += 1
    if n == 0:
        return 0
    v = v[:n]
    c = c[:n]
    if n > k:
        # thr = k-th largest value: keep everything above it, then the lowest-column
        # ties at it until k are kept.
        thr = np.partition(v, n - k)[n - k]
        n_above = 0
        n_ties = 0
        for j in range(n):
            if v[j] > thr:
                n_above += 1
            elif v[j] == thr:
                n_ties += 1
        need = k - n_above
        last_col = np.iinfo(np.int64).max
        if need < n_ties:
            ties = np.empty(n_ties, dtype=np.int64)
            t = 0
            for j in range(n):
                if v[j] == thr:
                    ties[t] = c[j]
                    t += 1
            last_col = np.partition(ties, need - 1)[need - 1]
        m = 0
        for j in range(n):  # compact in place; m <= j always
            if v[j] > thr or (v[j] == thr and c[j] <= last_col):
                v[m] = v[j]
                c[m] = c[j]
                m += 1
        v = v[:k]
        c = c[:k]
        n = k
    # sort by column, then stable sort by descending value => (-value, column) order
    order = np.argsort(c)
    v = v[order]
    c = c[order]
    order = np.argsort(-v, kind="mergesort")
    for j in range(n):
        out[j] = c[order[j]]
    return n


@njit(cache=True, nogil=True)
def _row_topk_f32(bits, cols, k, out):
    """float32 fast path, same order as ``_row_topk``. For non-negative floats the IEEE bit
    pattern orders like the value, so key = (~bits << 32 | column) sorts ascending in
    (-value, column) order and every key is unique: one partition + one small sort."""
    keys = np.empty(bits.size, dtype=np.uint64)
    n = 0
    for j in range(bits.size):
        b = bits[j]
        if b != 0 and b < 0x80000000:  # > 0 (negatives were refused upstream)
            keys[n] = (np.uint64(0xFFFFFFFF - b) << np.uint64(32)) | np.uint64(cols[j])
            n += 1
    keys = keys[:n]
    if n > k:
        keys = np.partition(keys, k - 1)[:k]
        n = k
    keys = np.sort(keys)
    for j in range(n):
        out[j] = keys[j] & np.uint64(0xFFFFFFFF)
    return n


@njit(parallel=True, cache=True)
def _csr_topk(indptr, indices, data, k, out, lengths):
    for i in prange(indptr.size - 1):
        s, e = indptr[i], indptr[i + 1]
        lengths[i] = _row_topk(data[s:e], indices[s:e], k, out[i])


@njit(parallel=True, cache=True)
def _csr_topk_f32(indptr, indices, bits, k, out, lengths):
    for i in prange(indptr.size - 1):
        s, e = indptr[i], indptr[i + 1]
        lengths[i] = _row_topk_f32(bits[s:e], indices[s:e], k, out[i])


def topk_indices(matrix: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` expressed genes per row of a non-negative CSR matrix.

    Returns ``(indices, lengths)``: int32 array (n_rows, k) of column indices in sentence
    order, padded with -1, and int32 (n_rows,) counts of valid entries (< k when a cell
    expresses fewer than k genes).
    """
    if not isinstance(matrix, (sp.csr_matrix, sp.csr_array)):  # re-wrapping a CSR would copy it
        matrix = sp.csr_matrix(matrix if sp.issparse(matrix) else np.asarray(matrix))
    data = matrix.data
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float32)
    out = np.full((matrix.shape[0], k), -1, dtype=np.int32)
    lengths = np.zeros(matrix.shape[0], dtype=np.int32)
    if matrix.shape[0] and data.dtype == np.float32 and matrix.shape[1] < 2**32:
        _csr_topk_f32(matrix.indptr, matrix.indices, data.view(np.uint32), k, out, lengths)
    elif matrix.shape[0]:
        _csr_topk(matrix.indptr, matrix.indices, data, k, out, lengths)
    return out, lengths


@njit(cache=True, nogil=True)
def store_rows(idx, lens, gmap, out, counts):
    """The cell-store rows of a chunk's top-k columns: row m of ``out`` gets ``gmap`` of the first ``lens[r]``
    columns of ``idx``'s m-th non-empty row r (the rest of ``out`` is left as it is: zeros), and ``counts[g]``
    counts each gene id g written. ``idx``/``lens``: from :func:`topk_indices`; ``out``: (non-empty rows, k),
    k >= idx.shape[1]. One pass in place of numpy's mask, gather, cast and bincount (0.5 s of a 1M-cell plan)."""
    m = 0
    for r in range(idx.shape[0]):
        n = lens[r]
        if n == 0:
            continue
        for j in range(n):
            g = gmap[idx[r, j]]
            out[m, j] = g
            counts[g] += 1
        m += 1
