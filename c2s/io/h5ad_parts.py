"""An ``.h5ad`` file read part by part: obs columns one at a time, obs names in row chunks, one
obsm or uns entry when asked, and the chosen matrix (``X``, a layer or ``raw/X``) left on disk:
CSR row ranges read by :class:`CsrRows`, dense rows by :class:`DenseRows`, CSC through
anndata's backed dataset.

Why not ``anndata.read_h5ad(backed="r")``: it loads every obs column, the obs names as Python
strings, all of obsm and every layer into memory. That was 180 MB per million cells before a
single row was read (measured on the 1M-cell benchmark file), 9 GB at the preprint's 50M.
Here the plan holds int codes per role and the kept cells' names as an Arrow array (~14 bytes
per cell). Files whose obs is not anndata's ``dataframe`` encoding (written before anndata
0.8) are read through anndata as before.

At most MAX_OPEN files are open at once (least recently used closed first; a part reopens its
file when next read): a directory of thousands of files, one dataset, failed with "Too many
open files" under the usual limit of 1,024 descriptors. A file replaced or rewritten while it
is being read is an error, never a mix of old and new rows.
"""

from __future__ import annotations

import os
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
from anndata.io import read_elem, sparse_dataset

from c2s.errors import C2SInputError
from c2s.io.h5ad_structure import check_matrix

ID_ROWS = 1 << 16  # obs names read per h5py call (bounded memory: one chunk of Python strings)
MAX_OPEN = 64  # h5py file handles kept open by this process
_OPEN: OrderedDict[Path, tuple[tuple, h5py.File]] = OrderedDict()  # path -> (stamp, file)


def stamp(path: Path) -> tuple[int, int, int, int]:
    """(device, inode, size, mtime ns): changes when the file is replaced or rewritten."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def handle(path: Path, expected: tuple | None = None) -> h5py.File:
    """The open read-only h5py file at ``path``, opened (and the least recently used one
    closed) as needed; ``expected``: the stamp it had when first read. Objects taken from the
    file stay valid until the next call for another file."""
    now = stamp(path)
    if expected is not None and now != expected:
        raise C2SInputError(f"{path} changed while it was being read. Leave inputs alone during a run, and re-run.")
    entry = _OPEN.pop(path, None)
    if entry is not None and (entry[0] != now or not entry[1].id.valid):
        entry[1].close()
        entry = None
    _OPEN[path] = entry = entry or (now, h5py.File(path, "r"))
    while len(_OPEN) > MAX_OPEN:
        _OPEN.popitem(last=False)[1][1].close()
    return entry[1]


def release(path: Path) -> None:
    """Close ``path``'s handle if open (a later read reopens it)."""
    entry = _OPEN.pop(path, None)
    if entry is not None:
        entry[1].close()


class H5adParts:
    """The parts of one ``.h5ad`` that a source needs, each read when asked (see module doc)."""

    def __init__(self, path: Path) -> None:
        self.path, self.stamp = path, stamp(path)
        weakref.finalize(self, release, path)  # as a held h5py.File closed with its owner
        obs = self.file["obs"]
        self._names = f"obs/{obs.attrs['_index']}"
        self.obs_keys = [str(k) for k in obs.attrs.get("column-order", [])]
        self.n_obs = int(self.file[self._names].shape[0])
        self.layers = sorted(self.file["layers"].keys()) if "layers" in self.file else []
        self.has_raw = "raw" in self.file and "X" in self.file["raw"]

    @property
    def file(self) -> h5py.File:
        return handle(self.path, self.stamp)

    @classmethod
    def open(cls, path: Path) -> "H5adParts | None":
        """The file's parts, or None when its obs predates anndata's element encoding."""
        f = handle(path)
        if "obs" not in f or f["obs"].attrs.get("encoding-type") != "dataframe":
            release(path)
            return None
        return cls(path)

    def close(self) -> None:
        """Close the file now (so that it can be rewritten); a later read reopens it."""
        release(self.path)

    def matrix(self, layer: str | None, use_raw: bool) -> tuple[Any, pd.DataFrame]:
        """(rows-sliceable matrix or None when absent, its var table): ``raw/X`` with ``raw/var``,
        ``layers/<layer>`` or ``X``."""
        where = "raw/" if use_raw else ""
        name = f"layers/{layer}" if layer is not None else f"{where}X"
        elem = self.file.get(name)
        var = read_elem(self.file[f"{where}var"])
        if elem is not None:  # before anything allocates by its declared shape
            check_matrix(self.path, elem, name, self.n_obs, len(var))
        if isinstance(elem, h5py.Group):
            csr = elem.attrs.get("encoding-type") == "csr_matrix"
            return (CsrRows(self, name) if csr else sparse_dataset(elem)), var
        return (None if elem is None else DenseRows(self, name)), var

    def obs_column(self, key: str) -> pd.Series:
        """One obs column (categorical columns stay codes plus categories)."""
        return pd.Series(read_elem(self.file["obs"][key]))

    def cell_ids(self, rows: np.ndarray) -> pa.Array:
        """Obs names of sorted positions ``rows`` (an Arrow string array), read ID_ROWS rows at a time."""
        rows = np.asarray(rows, dtype=np.int64)
        parts, names = [], self.file[self._names]
        for a in range(0, self.n_obs, ID_ROWS):
            lo, hi = np.searchsorted(rows, [a, a + ID_ROWS])
            if hi > lo:  # read as bytes, checked as UTF-8 by Arrow: 0.44 s per 1M names against 0.61 s via asstr()
                parts.append(pa.array(names[a : a + ID_ROWS][rows[lo:hi] - a], pa.binary()).cast(pa.string()))
        return pa.concat_arrays(parts) if parts else pa.array([], pa.string())

    def obsm(self, key: str) -> np.ndarray | None:
        return read_elem(self.file["obsm"][key]) if "obsm" in self.file and key in self.file["obsm"] else None

    def uns(self, key: str) -> Any:
        return read_elem(self.file["uns"][key]) if "uns" in self.file and key in self.file["uns"] else None


class DenseRows:
    """A dense matrix in an .h5ad file, indexed through h5py (its file reopened when needed)."""

    def __init__(self, parts: H5adParts, name: str) -> None:
        self.parts, self.name = parts, name
        self.shape = tuple(int(n) for n in parts.file[name].shape)

    def __getitem__(self, rows: Any) -> np.ndarray:
        return self.parts.file[self.name][rows]


class CsrRows:
    """A CSR matrix in an .h5ad group, read straight from its three h5py datasets: a row range
    in one read, integer rows in runs of nearby rows. (anndata's backed dataset parses scipy's
    package metadata on every read to pick an index check, 3 ms a call: 28% of converting 1M
    cells, and 4.8 of 22.6 s planning a directory of 1,000 files.)"""

    GAP = 1 << 14  # stored values (128 KB at most) read and dropped rather than starting a new read: 20k
    # scattered rows of 1M (82 values each) for marker genes read in 0.23 s, against 0.65 s with 1,024
    SPAN = 1 << 20  # stored values per read at most (bounded memory for any selection)

    def __init__(self, parts: H5adParts, name: str) -> None:
        self.parts, self.name = parts, name
        self.shape = tuple(int(n) for n in parts.file[name].attrs["shape"])

    def __getitem__(self, rows: Any) -> sp.csr_matrix:
        group = self.parts.file[self.name]
        if isinstance(rows, slice) and rows.step in (None, 1):
            start, stop, _ = rows.indices(self.shape[0])
            stop = max(start, stop)
            ptr = group["indptr"][start : stop + 1].astype(np.int64)
            lo, hi = int(ptr[0]), int(ptr[-1])
            x = (group["data"][lo:hi], group["indices"][lo:hi], ptr - lo)
            return sp.csr_matrix(x, shape=(stop - start, self.shape[1]))
        rows = np.arange(self.shape[0])[rows] if isinstance(rows, slice) else np.asarray(rows)
        if (
            rows.dtype.kind not in "iu"
            or rows.ndim != 1
            or (rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]))
        ):
            return sparse_dataset(group)[rows]  # masks, negative or bad indices: anndata's rules and errors
        return self._rows(group, rows.astype(np.int64))

    def _rows(self, group: h5py.Group, rows: np.ndarray) -> sp.csr_matrix:
        u = np.unique(rows)
        if u.size == 0:
            return sp.csr_matrix((0, self.shape[1]), dtype=group["data"].dtype)
        first, last = int(u[0]), int(u[-1])
        if last - first + 1 == u.size:  # a range after all: one read
            m = self[first : last + 1]
            return m if u.size == rows.size else m[rows - first]
        if last - first < min(self.SPAN, 64 * u.size):  # a dense enough span of indptr: faster than points
            span = group["indptr"][first : last + 2].astype(np.int64)
            starts, ends = span[u - first], span[u - first + 1]
        else:
            starts, ends = (group["indptr"][u + d].astype(np.int64) for d in (0, 1))
        new = np.r_[True, starts[1:] - ends[:-1] > self.GAP]  # a new read where the gap is large...
        sub = (starts - starts[new][np.cumsum(new) - 1]) // self.SPAN
        new[1:] |= sub[1:] != sub[:-1]  # ...or the read would grow past SPAN
        cut = np.flatnonzero(new)[1:]
        data, indices, dset, iset = [], [], group["data"], group["indices"]
        for a, b in zip(np.r_[0, cut].tolist(), np.r_[cut, u.size].tolist()):
            lo, hi = int(starts[a]), int(ends[b - 1])
            d, i = dset[lo:hi], iset[lo:hi]
            if b - a > 1:  # keep each row's values, drop the gaps between them
                n = ends[a:b] - starts[a:b]
                take = np.arange(int(n.sum())) + np.repeat(starts[a:b] - lo - np.r_[0, np.cumsum(n)[:-1]], n)
                d, i = d[take], i[take]
            data.append(d)
            indices.append(i)
        ptr = np.r_[0, np.cumsum(ends - starts)]
        m = sp.csr_matrix((np.concatenate(data), np.concatenate(indices), ptr), shape=(u.size, self.shape[1]))
        return m if u.size == rows.size and np.array_equal(u, rows) else m[np.searchsorted(u, rows)]
