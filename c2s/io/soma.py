"""A TileDB-SOMA experiment (local directory or any URI tiledbsoma opens) as a source: ``data=soma``.

One query per dataset: a measurement (``data.measurement``, default ``RNA``), obs and var value filters (SOMA
filter strings: ``data.obs_value_filter="tissue_general == 'lung'"``), an X layer (``data.layer``, default
``raw``: counts, normalised as for h5ad) and a gene-symbol column of var (``data.gene_key``, ``feature_name``).
``SomaParts`` gives ``ExpressionSource`` the same parts an .h5ad file gives it (``c2s.io.h5ad_parts``), so the
checks, the normalisation and the sentences are the same code. X is read in row chunks of the query's
``soma_joinid``s: memory follows the chunk. Cell ids are an obs column of names (``data.obs_id_key``, ``obs_id``
as ``tiledbsoma.io.from_h5ad`` writes it) or the ``soma_joinid``s.

tiledbsoma is an optional extra (``pip install -e .[soma]``); it is imported only when a SOMA source is opened.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from c2s.errors import C2SInputError

READ_ROWS = 4096  # joinids per X read when rows are asked one list at a time
# TileDB's read buffers: its default budget (10 GB) let a read of 1,000 scattered rows (the inverse fit's sample)
# take 1.2 GB at 1M cells; bounded here, a read goes in more, smaller pieces (tiledbsoma resumes it)
TILEDB_CONFIG = {"sm.mem.total_budget": str(256 << 20), "soma.init_buffer_bytes": str(64 << 20)}


def _soma():
    try:
        import tiledbsoma
    except ImportError:
        raise C2SInputError(
            "Reading a SOMA experiment needs tiledbsoma: pip install -e '.[soma]' (or pip install tiledbsoma)."
        ) from None
    return tiledbsoma


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def check_uri(uri: str) -> None:
    """A local experiment directory must exist (a remote URI is checked when it is opened)."""
    if is_local(uri) and not Path(uri.removeprefix("file://")).expanduser().is_dir():
        raise C2SInputError(
            f"data.uri={uri!r}: no such directory. Give a SOMA experiment directory (tiledbsoma.io.from_h5ad writes "
            "one) or a URI tiledbsoma opens (s3://…)."
        )


def identity(uri: str) -> str:
    """What pins a local experiment's content: every file below it, by relative path and size (TileDB writes
    new fragments, named by timestamp, for every write: a write gives a new identity). A remote URI is taken
    by name (pin a version: the Census source adds its release)."""
    if not is_local(uri):
        return f"soma:{uri}"
    root = Path(uri.removeprefix("file://")).expanduser()
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            h.update(f"{p.relative_to(root)}\0{p.stat().st_size}\n".encode())
    return f"soma:{h.hexdigest()}"


def context():
    """A SOMA context with bounded read memory (``TILEDB_CONFIG``)."""
    soma = _soma()
    return soma.SOMATileDBContext(tiledb_config=TILEDB_CONFIG)


class SomaRows:
    """X of the query, rows by position: a slice or sorted positions -> CSR (rows, n_vars)."""

    def __init__(self, parts: "SomaParts", layer: str) -> None:
        self.parts, self.layer = parts, layer
        self.shape = (parts.n_obs, parts.var_joinids.size)

    def __getitem__(self, rows: Any) -> sp.csr_matrix:
        pos = np.arange(self.shape[0])[rows] if isinstance(rows, slice) else np.asarray(rows, dtype=np.int64)
        joinids = self.parts.obs_joinids[pos]
        order = np.argsort(joinids, kind="stable")
        x = self.parts.ms.X[self.layer]
        r, c, v = [], [], []
        for a in range(0, joinids.size, READ_ROWS):
            want = np.sort(joinids[a : a + READ_ROWS])
            for t in x.read(coords=(want, self.parts.var_joinids)).tables():
                r.append(t["soma_dim_0"].to_numpy())
                c.append(t["soma_dim_1"].to_numpy())
                v.append(t["soma_data"].to_numpy())
        if not r:
            return sp.csr_matrix((pos.size, self.shape[1]), dtype=np.float32)
        rows_out = order[np.searchsorted(joinids[order], np.concatenate(r))]  # joinid -> its place in ``pos``
        cols = np.searchsorted(self.parts.var_joinids, np.concatenate(c))
        data = np.concatenate(v)
        return sp.csr_matrix((data, (rows_out, cols)), shape=(pos.size, self.shape[1]))


class SomaParts:
    """The parts of one SOMA query that a source needs (the interface of ``c2s.io.h5ad_parts.H5adParts``)."""

    has_raw = False

    def __init__(
        self,
        uri: str,
        measurement: str = "RNA",
        obs_value_filter: str | None = None,
        var_value_filter: str | None = None,
        obs_id_key: str | None = "obs_id",
        experiment: Any = None,
        dataset_text: dict[str, str] | None = None,
    ) -> None:
        """``experiment``: an opened one (the Census's, c2s.io.census), else ``uri`` is opened. ``dataset_text``:
        {dataset id: text} served as ``uns("dataset_text")``."""
        soma = _soma()
        self.dataset_text = dataset_text
        if experiment is not None:
            self.exp = experiment
        else:
            check_uri(uri)
            try:
                self.exp = soma.Experiment.open(uri, context=context())
            except Exception as exc:  # tiledbsoma raises several types for a path that is not an experiment
                raise C2SInputError(
                    f"data.uri={uri!r} is not a SOMA experiment ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
                    "Give the experiment's directory or URI (for the Census: data=census)."
                ) from None
        if measurement not in self.exp.ms:
            raise C2SInputError(
                f"data.measurement={measurement!r} is not in {uri}; measurements: {sorted(self.exp.ms.keys())}."
            )
        self.uri, self.ms = uri, self.exp.ms[measurement]
        self._obs_names = [n for n in self.exp.obs.schema.names if n != "soma_joinid"]
        self._var_names = [n for n in self.ms.var.schema.names if n != "soma_joinid"]
        try:
            self._obs_query = soma.AxisQuery(value_filter=obs_value_filter)
            query = self.exp.axis_query(
                measurement, obs_query=self._obs_query, var_query=soma.AxisQuery(value_filter=var_value_filter)
            )
            self.obs_joinids = np.sort(query.obs_joinids().to_numpy())
            self.var_joinids = np.sort(query.var_joinids().to_numpy())
        except Exception as exc:
            raise C2SInputError(
                f"The SOMA value filters of {uri} could not be applied ({str(exc).splitlines()[0]}): check "
                f"data.obs_value_filter={obs_value_filter!r} and data.var_value_filter={var_value_filter!r} "
                f"(columns: obs {self._obs_names}, var {self._var_names}; e.g. \"tissue_general == 'lung'\")."
            ) from None
        if self.obs_joinids.size == 0 or self.var_joinids.size == 0:
            which = "cell" if self.obs_joinids.size == 0 else "gene"
            raise C2SInputError(
                f"The query of {uri} selects no {which} (obs_value_filter={obs_value_filter!r}, "
                f"var_value_filter={var_value_filter!r}): loosen the filter."
            )
        self.n_obs = int(self.obs_joinids.size)
        self.obs_keys = self._obs_names
        self.layers = sorted(self.ms.X.keys())
        self.obs_id_key = obs_id_key if obs_id_key in self._obs_names else None

    owner: Any = None  # an opened collection that holds ``exp`` (the Census): closed with it

    def close(self) -> None:
        self.exp.close()
        if self.owner is not None:
            self.owner.close()

    def where_of(self, layer: str | None, use_raw: bool) -> str:
        return f"{self.uri} X[{layer!r}]"

    def matrix(self, layer: str | None, use_raw: bool) -> tuple[SomaRows | None, pd.DataFrame]:
        """(X[layer] of the query, its var table indexed by ``var_id`` or joinid)."""
        if use_raw:
            raise C2SInputError("A SOMA experiment has no .raw: choose its X layer with data.layer (e.g. raw).")
        var = self._read(self.ms.var, self.var_joinids, self._var_names)
        var.index = var.pop("var_id").astype(str) if "var_id" in var else self.var_joinids.astype(str)
        return (SomaRows(self, layer) if layer in self.layers else None), var

    def _read(self, df, joinids: np.ndarray, columns: list[str]) -> pd.DataFrame:
        """Columns of the rows ``joinids`` (sorted) of a SOMA dataframe (var), in that order."""
        table = df.read(coords=(joinids,), column_names=["soma_joinid", *columns]).concat()
        out = table.to_pandas()
        place = np.searchsorted(joinids, out.pop("soma_joinid").to_numpy())
        return out.iloc[np.argsort(place, kind="stable")].reset_index(drop=True)

    def _obs(self, key: str) -> pa.ChunkedArray:
        """One obs column of the query's cells, in joinid order: read with the query's value filter (a million
        point coordinates made TileDB hold 1.2 GB more), the rows of other cells never loaded."""
        table = self.exp.obs.read(value_filter=self._obs_query.value_filter, column_names=["soma_joinid", key])
        table = table.concat()
        order = np.argsort(table["soma_joinid"].to_numpy(), kind="stable")
        return table[key].take(pa.array(order))

    def obs_column(self, key: str) -> pd.Series:
        if key not in self._obs_names:
            raise C2SInputError(f"{key!r} is not an obs column of {self.uri}; columns: {self._obs_names}.")
        return self._obs(key).to_pandas().reset_index(drop=True)

    def cell_ids(self, rows: np.ndarray) -> pa.Array:
        rows = np.asarray(rows, dtype=np.int64)
        if self.obs_id_key is None:
            return pa.array(self.obs_joinids[rows].astype(str), pa.string())
        return self._obs(self.obs_id_key).take(pa.array(rows)).combine_chunks().cast(pa.string())

    def obsm(self, key: str) -> np.ndarray | None:
        if "obsm" not in self.ms or key not in self.ms.obsm:
            return None
        arr = self.ms.obsm[key]
        out = np.zeros((self.n_obs, arr.shape[1]), dtype=np.float64)
        t = arr.read(coords=(self.obs_joinids,)).tables().concat()
        out[np.searchsorted(self.obs_joinids, t["soma_dim_0"].to_numpy()), t["soma_dim_1"].to_numpy()] = t[
            "soma_data"
        ].to_numpy()
        return out

    def uns(self, key: str) -> Any:
        return self.dataset_text if key == "dataset_text" else None


# ---- the source kind (c2s.io.sources registers it under "soma": data.path soma:<uri>) --------------------------
def _uri(part: str) -> str:
    return part.split(":", 1)[1]


def read_query(parts: SomaParts, o: Any, upper_case: bool):
    """A SOMA query read through ExpressionSource, as an .h5ad file is (``o``: the data config: its X layer,
    gene column and matrix kind)."""
    from c2s.io.anndata_io import ExpressionSource

    return ExpressionSource(
        parts, layer=o.layer or "raw", gene_key=o.gene_key, matrix_kind=o.matrix_kind, upper_case=upper_case
    )


def soma_open(part: str, o: Any, upper_case: bool):
    """The experiment at ``part``'s URI, queried as the data config ``o`` says."""
    parts = SomaParts(
        _uri(part),
        getattr(o, "measurement", "RNA"),
        getattr(o, "obs_value_filter", None),
        getattr(o, "var_value_filter", None),
        getattr(o, "obs_id_key", "obs_id"),
    )
    return read_query(parts, o, upper_case)


def soma_check(part: str) -> None:
    check_uri(_uri(part))


def soma_identity(part: str) -> str:
    return identity(_uri(part))
