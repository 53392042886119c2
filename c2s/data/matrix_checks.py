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

from c2s.errors import C2SInputError

KINDS = ("auto", "counts", "lognorm")
# log1p(1e6) = 13.8 is the largest value a CPM-scale log-normalisation can reach; 30 leaves room.
LOGNORM_MAX = 30.0


def _values(chunk: sp.csr_matrix | np.ndarray) -> np.ndarray:
    return chunk.data if sp.issparse(chunk) else np.asarray(chunk).ravel()


def check_finite_nonnegative(chunk: sp.csr_matrix | np.ndarray, where: str, alternatives: str) -> None:
    """Raise if the chunk holds NaN/inf or negative values. ``where`` names the matrix."""
    v = _values(chunk)
    if v.size == 0:
        return
    if not np.isfinite(v).all():
        n_bad = int((~np.isfinite(v)).sum())
        raise C2SInputError(
            f"{where} contains {n_bad} NaN or infinite values. Cell sentences need finite expression: "
            f"fill or drop them first (e.g. np.nan_to_num), or choose another matrix. {alternatives}"
        )
    vmin = float(v.min())
    if vmin < 0:
        raise C2SInputError(
            f"{where} has negative values (min {vmin:.3g}): it looks scaled or batch-corrected "
            f"(e.g. sc.pp.scale), which destroys the within-cell ranking. Use counts or "
            f"log-normalised expression instead. {alternatives}"
        )


def _is_integer(v: np.ndarray) -> bool:
    return bool(np.all(np.equal(np.mod(v, 1), 0)))


def detect_kind(chunk: sp.csr_matrix | np.ndarray, where: str, alternatives: str) -> str:
    """Classify a (finite, non-negative) chunk as ``counts`` or ``lognorm``, or raise."""
    v = _values(chunk)
    v = v[v != 0]
    if v.size == 0 or _is_integer(v):
        return "counts"
    vmax = float(v.max())
    if vmax > LOGNORM_MAX:
        raise C2SInputError(
            f"{where} is non-integer with values up to {vmax:.3g}: it looks normalised but not "
            "log-transformed. Apply sc.pp.log1p first, or pass integer counts, or set "
            f"matrix_kind='lognorm' to use it as is. {alternatives}"
        )
    return "lognorm"


def check_consistent(chunk: sp.csr_matrix | np.ndarray, kind: str, where: str, rows: str) -> None:
    """For counts, every later chunk must be integer too (a mixed matrix is a bug upstream)."""
    if kind == "counts" and not _is_integer(_values(chunk)):
        raise C2SInputError(
            f"{where} looked like integer counts in its first rows but has non-integer values in "
            f"rows {rows}. Set matrix_kind='lognorm' if it is log-normalised, or fix the matrix."
        )
