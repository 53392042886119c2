"""Decide what an expression matrix holds, and refuse what cell sentences cannot use.

Kinds:
- ``counts``: non-negative integers; normalised with scanpy ``normalize_total(1e4)`` + ``log1p``.
- ``lognorm``: non-negative, non-integer, max <= ``LOGNORM_MAX``; used as is.
Refused: NaN/inf, any negative value (scaled or corrected data), and non-integer data with
values above ``LOGNORM_MAX`` (normalised but not log-transformed).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from c2s.errors import C2SInputError

KINDS = ("auto", "counts", "lognorm")
# log1p(1e6) = 13.8 is the largest value a CPM-scale log-normalisation can reach; 30 leaves room.
LOGNORM_MAX = 30.0


def _values(chunk: sp.csr_matrix | np.ndarray) -> np.ndarray:
    return chunk.data if sp.issparse(chunk) else np.asarray(chunk).ravel()


@njit(parallel=True, cache=True)
def _scan(v):
    """One pass: (count of NaN/inf, min of finite values, count of non-integer finite values)."""
    n_bad = 0
    n_frac = 0
    vmin = np.inf
    for i in prange(v.size):
        x = v[i]
        if not np.isfinite(x):
            n_bad += 1
        else:
            vmin = min(vmin, x)
            if x != np.floor(x):
                n_frac += 1
    return n_bad, vmin, n_frac


def scan(chunk: sp.csr_matrix | np.ndarray) -> tuple[int, float, int]:
    """(number of NaN/inf, minimum, number of non-integer values) of a chunk's stored values."""
    v = _values(chunk)
    if v.size == 0:
        return 0, np.inf, 0
    if v.dtype not in (np.float32, np.float64):
        v = v.astype(np.float64)
    n_bad, vmin, n_frac = _scan(v)
    return int(n_bad), float(vmin), int(n_frac)


def check_chunk(chunk: sp.csr_matrix | np.ndarray, where: str, alternatives: str) -> int:
    """Raise if the chunk holds NaN/inf or negative values; return its count of non-integers.

    ``where`` names the matrix (and rows) in messages; ``alternatives`` lists other matrices.
    """
    n_bad, vmin, n_frac = scan(chunk)
    if n_bad:
        raise C2SInputError(
            f"{where} contains {n_bad} NaN or infinite values. Cell sentences need finite expression: "
            f"fill or drop them first (e.g. np.nan_to_num), or choose another matrix. {alternatives}"
        )
    if vmin < 0:
        raise C2SInputError(
            f"{where} has negative values (min {vmin:.3g}): it looks scaled or batch-corrected "
            f"(e.g. sc.pp.scale), which destroys the within-cell ranking. Use counts or "
            f"log-normalised expression instead. {alternatives}"
        )
    return n_frac


def detect_kind(chunk: sp.csr_matrix | np.ndarray, where: str, alternatives: str) -> str:
    """Classify a chunk as ``counts`` or ``lognorm`` (after :func:`check_chunk`), or raise."""
    if check_chunk(chunk, where, alternatives) == 0:
        return "counts"
    vmax = float(_values(chunk).max())
    if vmax > LOGNORM_MAX:
        raise C2SInputError(
            f"{where} is non-integer with values up to {vmax:.3g}: it looks normalised but not "
            "log-transformed. Apply sc.pp.log1p first, or pass integer counts, or set "
            f"matrix_kind='lognorm' to use it as is. {alternatives}"
        )
    return "lognorm"


def check_consistent(n_frac: int, kind: str, where: str, rows: str) -> None:
    """For counts, every later chunk must be integer too (a mixed matrix is a bug upstream)."""
    if kind == "counts" and n_frac:
        raise C2SInputError(
            f"{where} looked like integer counts in its first rows but has non-integer values in "
            f"rows {rows}. Set matrix_kind='lognorm' if it is log-normalised, or fix the matrix."
        )
