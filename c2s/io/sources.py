"""Data sources behind one protocol, and the one table of their schemes.

A ``data.path`` is ``<scheme>:<rest>`` for a registered scheme (``synthetic:0``, ``scanpy:pbmc68k_reduced``), else
a file, a directory of ``.h5ad`` files or a glob (scheme ``h5ad``; a URI such as ``s3://…`` is not a scheme here).
A scheme's ``SourceKind`` says how to list a path's parts, check that they exist, open each part as a ``Source``,
and name its content for the shard hash. Nothing else in c2s tests a scheme's name: a new source is one
``SourceKind`` registered here (or with ``register_source`` from your own module) plus a data config.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from c2s.errors import C2SInputError
from c2s.io.census import census_check, census_open
from c2s.io.soma import soma_check, soma_identity, soma_open


@runtime_checkable
class Source(Protocol):
    """What the corpus build reads from one part of a dataset. Rows are cells, columns genes."""

    where: str  # names the matrix in messages, e.g. "adata.X"
    kind: str  # "counts" or "lognorm": what the matrix held before normalisation
    gene_names: list[str]  # (n_vars,) unique symbols, whitespace-free

    @property
    def n_obs(self) -> int: ...

    @property
    def n_vars(self) -> int: ...

    @property
    def obs_keys(self) -> list[str]: ...

    def obs_column(self, key: str) -> pd.Series:
        """One obs column, all rows (read on its own: a source never loads obs whole)."""

    def cell_ids(self, rows: np.ndarray) -> pa.Array:
        """Ids (strings) of the sorted row positions ``rows``."""

    def obsm(self, key: str) -> np.ndarray | None:
        """A per-cell matrix such as spatial coordinates (n_obs, d), or None."""

    def uns(self, key: str) -> Any:
        """Dataset-level metadata (a description), or None."""

    def iter_chunks(self, chunk_size: int = 512) -> Iterator[tuple[int, int, sp.csr_matrix]]:
        """``(start, stop, csr)``: log-normalised rows ``start:stop``, (rows, n_vars) float32."""

    def read_rows(self, rows: np.ndarray) -> sp.csr_matrix:
        """Log-normalised rows at sorted positions ``rows``, (len(rows), n_vars)."""

    def close(self) -> None:
        """Release files or connections (a later read may reopen them)."""


@dataclass(frozen=True)
class SourceKind:
    """One scheme. ``parts``: a data path -> its parts, in order (one dataset). ``check``: raise C2SInputError
    when a part cannot be read (before any work). ``open(part, options, upper_case)``: the part as a Source;
    ``options`` has the data config's reading keys (layer, use_raw, gene_key, matrix_kind, backed).
    ``identity(part)``: what pins the part's content in the shard hash: a string (a name whose content never
    changes, a version, array timestamps), or a Path, whose bytes' sha256 the prepare step takes (cached).
    ``anndata(part, backed)``: the part as an AnnData, for the AnnData-level API (``load_anndata``), where the
    source has one."""

    parts: Callable[[str], list[str]]
    check: Callable[[str], None]
    open: Callable[[str, Any, bool], Source]
    identity: Callable[[str], str | Path]
    anndata: Callable[[str, bool], Any] | None = None
    size: Callable[[str], int | None] | None = None  # cells in a part, read cheaply (sizes workers=auto)


def scheme_of(path: str) -> str:
    """The scheme of a data path: its ``name:`` prefix when that is a word of two or more letters not followed
    by ``//`` (a URI) , else ``h5ad``."""
    m = re.match(r"([A-Za-z][A-Za-z0-9_]+):(?!//)", path)
    return m.group(1) if m else "h5ad"


def kind_of(path: str) -> SourceKind:
    """The registered kind of ``path``'s scheme, or an error that lists the known ones."""
    scheme = scheme_of(path)
    if scheme not in SOURCES:
        raise C2SInputError(
            f"data.path={path!r}: unknown source scheme {scheme!r}; known: {', '.join(sorted(SOURCES))} "
            "(a file, directory or glob needs no scheme)."
        )
    return SOURCES[scheme]


def source_parts(path: str) -> list[str]:
    """The parts of one data path, each checked."""
    kind = kind_of(path)
    parts = kind.parts(path)
    for part in parts:
        kind.check(part)
    return parts


def open_source(part: str | Any, options: Any = None, upper_case: bool = False, **reading: Any) -> Source:
    """Open one part (a string of a registered scheme, or an in-memory AnnData) as a Source. ``options``: an
    object with the reading keys; ``reading``: the same keys as keyword arguments (notebooks)."""
    from c2s.io.anndata_io import ExpressionSource

    if not isinstance(part, (str, Path)):
        return ExpressionSource(part, upper_case=upper_case, **reading)
    kind = kind_of(str(part))
    kind.check(str(part))
    return kind.open(str(part), options if options is not None else _Reading(**reading), upper_case)


def count_cells(part: str) -> int | None:
    """A part's number of cells when its kind can say cheaply (``SourceKind.size``), else None."""
    kind = kind_of(part)
    return kind.size(part) if kind.size is not None else None


def identities(paths: list[str]) -> list[str | Path]:
    """Each part's content identity (see ``SourceKind.identity``)."""
    return [kind_of(p).identity(p) for p in paths]


def register_source(scheme: str, kind: SourceKind) -> None:
    """Add a source under ``scheme`` (``<scheme>:...`` paths then open with it)."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]+", scheme):
        raise ValueError(f"A source scheme is a word of two or more letters, digits or _: {scheme!r}.")
    SOURCES[scheme] = kind


@dataclass
class _Reading:
    layer: str | None = None
    use_raw: bool = False
    gene_key: str | None = None
    matrix_kind: str = "auto"
    backed: bool = False


def _anndata_source(adata_of: Callable[[str], Any]) -> Callable[[str, Any, bool], Source]:
    """An opener that reads the AnnData ``adata_of(part)`` gives (in memory, or a path streamed when backed)."""

    def open_part(part: str, o: Any, upper_case: bool) -> Source:
        from c2s.io.anndata_io import ExpressionSource

        return ExpressionSource(
            adata_of(part),
            layer=o.layer,
            use_raw=o.use_raw,
            gene_key=o.gene_key,
            matrix_kind=o.matrix_kind,
            backed=o.backed,
            upper_case=upper_case,
        )

    return open_part


# ---- h5ad files -------------------------------------------------------------------------------
def _h5ad_parts(path: str) -> list[str]:
    """A file, a directory of ``*.h5ad`` or a glob (sorted)."""
    p = Path(path).expanduser()
    if p.is_dir():
        files = sorted(str(f) for f in p.glob("*.h5ad"))
    elif any(c in path for c in "*?["):
        files = sorted(glob.glob(str(p)))
    else:
        return [path]
    if not files:
        raise C2SInputError(
            f"data.path={path!r} matches no .h5ad file. Give a file, a directory of .h5ad files or a glob."
        )
    return files


def _h5ad_check(part: str) -> None:
    if Path(part).expanduser().is_dir():
        raise C2SInputError(
            f"{part} is a directory, and this step reads one .h5ad file. Give a file (train.py and "
            "prepare take a directory or glob of .h5ad files as one dataset)."
        )
    if not Path(part).expanduser().is_file():
        raise C2SInputError(
            f"data.path={part!r}: no such file. Give an existing .h5ad, a directory of .h5ad files, a glob, "
            "or scanpy:pbmc68k_reduced."
        )


# ---- generated and bundled data: the name is the content --------------------------------------
def _synthetic_check(part: str) -> None:
    if not re.fullmatch(r"\d*", part.split(":", 1)[1]):
        raise C2SInputError(f"data.path={part!r}: synthetic:<seed> takes an integer seed, e.g. synthetic:0.")


SYNTHETIC_CELLS = 400  # c2s.io.synthetic.make_synthetic's default


def _synthetic(part: str, backed: bool = False):
    from c2s.io.synthetic import make_synthetic

    return make_synthetic(seed=int(part.split(":", 1)[1] or 0))


BUNDLED = {"pbmc68k_reduced": 700}  # scanpy datasets that ship inside the wheel (no download): their cells


def _scanpy_check(part: str) -> None:
    if part.split(":", 1)[1] not in BUNDLED:
        raise C2SInputError(
            f"{part!r}: only datasets bundled inside scanpy load offline ({sorted(BUNDLED)}). "
            "Download other data yourself and pass the .h5ad path."
        )


def _scanpy(part: str, backed: bool = False):
    import scanpy as sc

    return getattr(sc.datasets, part.split(":", 1)[1])()


def _one(path: str) -> list[str]:
    return [path]


def _h5ad_size(part: str) -> int | None:
    """Rows of an .h5ad's obs (its index length, read with h5py), or None for an older encoding."""
    import h5py

    try:
        with h5py.File(Path(part).expanduser(), "r") as f:
            index = f["obs"].attrs.get("_index")
            return int(f["obs"][index].shape[0]) if index is not None else None
    except (OSError, KeyError):
        return None


def _read_h5ad(part: str, backed: bool = False):
    from c2s.io.anndata_io import read_h5ad

    return read_h5ad(part, backed)


SOURCES: dict[str, SourceKind] = {
    "h5ad": SourceKind(
        _h5ad_parts, _h5ad_check, _anndata_source(lambda p: p), lambda p: Path(p).expanduser(), _read_h5ad, _h5ad_size
    ),
    "synthetic": SourceKind(
        _one, _synthetic_check, _anndata_source(_synthetic), str, _synthetic, lambda p: SYNTHETIC_CELLS
    ),
    "scanpy": SourceKind(
        _one, _scanpy_check, _anndata_source(_scanpy), str, _scanpy, lambda p: BUNDLED.get(p.split(":", 1)[1])
    ),
    "soma": SourceKind(_one, soma_check, soma_open, soma_identity),
    # a Census release never changes: its version is its content (a local copy of it included)
    "census": SourceKind(_one, census_check, census_open, str),
}


def load_anndata(data: Any, backed: bool = False):
    """An AnnData from an object, an ``.h5ad`` path, ``scanpy:<bundled dataset>`` or ``synthetic:<seed>`` (any
    source with an AnnData view); ``backed=True`` opens a file read-only without loading the matrix."""
    if not isinstance(data, (str, Path)):
        return data
    text = str(data)
    kind = kind_of(text)
    if kind.anndata is None:
        raise C2SInputError(f"data.path={text!r}: this source has no AnnData view; read it with prepare.")
    kind.check(text)
    return kind.anndata(text, backed)
