"""The on-disk structure of an ``.h5ad`` matrix, checked before any allocation that trusts it.

A file can lie: an X whose declared shape is 240 × 10⁹ made numpy try to allocate 894 GiB, an ``indptr`` that
points past ``data`` ended in a scipy traceback, a column index past the gene count would read out of bounds.
``check_matrix`` compares the declared shape with the array lengths, the obs and var lengths and the dtypes, and
scans ``indptr`` (in chunks: bounded memory) for order and bounds. Row chunks are checked for column indices as
they are read (``check_rows``). Each failure is one line naming the file, the part and the fix.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from c2s.errors import C2SInputError

SCAN = 1 << 20  # indptr entries per read while scanning


def _bad(path: Path, name: str, what: str) -> C2SInputError:
    return C2SInputError(
        f"{path}: {name} {what}: the file is damaged or was not written by anndata. Re-export it with "
        "adata.write_h5ad(), or choose another matrix (data.layer, data.use_raw)."
    )


def check_matrix(path: Path, elem: h5py.Group | h5py.Dataset, name: str, n_obs: int, n_vars: int) -> None:
    """Raise unless ``elem`` (a CSR/CSC group or a dense dataset) is a consistent (n_obs, n_vars) matrix."""
    if isinstance(elem, h5py.Dataset):
        if elem.ndim != 2 or tuple(elem.shape) != (n_obs, n_vars):
            raise _bad(path, name, f"has shape {tuple(elem.shape)}, but obs and var give ({n_obs}, {n_vars})")
        _numeric(path, name, elem.dtype)
        return
    shape = tuple(int(n) for n in np.asarray(elem.attrs.get("shape", ())).ravel())
    if shape != (n_obs, n_vars):
        raise _bad(path, name, f"declares shape {shape}, but obs and var give ({n_obs}, {n_vars})")
    missing = [k for k in ("data", "indices", "indptr") if k not in elem]
    if missing:
        raise _bad(path, name, f"lacks {missing}")
    data, indices, indptr = elem["data"], elem["indices"], elem["indptr"]
    _numeric(path, f"{name}/data", data.dtype)
    for part in (indices, indptr):
        if part.ndim != 1 or not np.issubdtype(part.dtype, np.integer):
            raise _bad(path, f"{name}/{part.name.rsplit('/', 1)[-1]}", f"is not a 1-D integer array ({part.dtype})")
    if data.ndim != 1 or data.shape[0] != indices.shape[0]:
        raise _bad(path, name, f"has {data.shape[0]} values but {indices.shape[0]} indices")
    major = shape[0] if elem.attrs.get("encoding-type") != "csc_matrix" else shape[1]
    if indptr.shape[0] != major + 1:
        raise _bad(path, f"{name}/indptr", f"has {indptr.shape[0]} entries for {major} rows (needs {major + 1})")
    last, nnz = 0, int(data.shape[0])
    for a in range(0, indptr.shape[0], SCAN):
        part = indptr[a : a + SCAN + 1].astype(np.int64)
        if (a == 0 and part[0] != 0) or part[0] < last or np.any(np.diff(part) < 0):
            raise _bad(path, f"{name}/indptr", "is not non-decreasing from 0")
        last = int(part[-1])
    if last != nnz:
        raise _bad(path, f"{name}/indptr", f"ends at {last}, but there are {nnz} stored values")


def _numeric(path: Path, name: str, dtype: np.dtype) -> None:
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating) or dtype == np.bool_):
        raise _bad(path, name, f"holds {dtype} values, not numbers")


def check_rows(indices: np.ndarray, n_vars: int, where: str) -> None:
    """Raise unless every column index of a chunk is in [0, n_vars)."""
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= n_vars):
        raise C2SInputError(
            f"{where}: a column index lies outside the {n_vars} genes: the file is damaged. Re-export it with "
            "adata.write_h5ad()."
        )


def _length(group: h5py.Group) -> int | None:
    """Rows of an anndata dataframe group (its index), or None for an older encoding."""
    index = group.attrs.get("_index") if isinstance(group, h5py.Group) else None
    return int(group[index].shape[0]) if index is not None and index in group else None


def check_file(path: Path, backed: bool = False) -> None:
    """``check_matrix`` on X, every layer and raw/X of the file at ``path`` (before anndata loads it); loaded in
    memory (not ``backed``), a sparse float16 matrix is refused with the fix (scipy has no float16 sparse)."""
    with h5py.File(path, "r") as f:
        n_obs, n_vars = _length(f.get("obs")), _length(f.get("var"))
        if n_obs is None or n_vars is None:
            return  # written before anndata's element encoding: anndata reads it as before
        names = ["X"] if "X" in f else []
        names += [f"layers/{k}" for k in f["layers"]] if isinstance(f.get("layers"), h5py.Group) else []
        for name in names:
            check_matrix(path, f[name], name, n_obs, n_vars)
            if not backed and isinstance(f[name], h5py.Group) and f[name]["data"].dtype == np.float16:
                raise C2SInputError(
                    f"{path}: {name} is a sparse float16 matrix, which scipy (and so anndata) cannot load. Read it "
                    "with data.backed=true (c2s converts each row chunk to float32), or store it as float32."
                )
        raw_vars = _length(f["raw"].get("var")) if isinstance(f.get("raw"), h5py.Group) else None
        if raw_vars is not None and "X" in f["raw"]:
            check_matrix(path, f["raw/X"], "raw/X", n_obs, raw_vars)
