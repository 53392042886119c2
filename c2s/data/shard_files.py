"""Shard files on disk (pyarrow and numba): a render job's writer, and one shard read back
with its token ids. Kept apart from :mod:`c2s.data.shards` so that the training stream, which
only reads manifests and ``.tokens``/``.lengths.npy`` files, does not import pyarrow and numba
(about 75 MB of RSS per process and per loader worker, measured).

Parquet columns: task, split, prompt, target, cell_ids (list<str>), meta (JSON str),
n_tokens (int32: bos + prompt + target + eos). Token ids live once, beside it: ``X.tokens``,
each row's prompt then target ids (manifest ``token_dtype``), and ``X.lengths.npy``, int32
(rows, 3): prompt length, target length, cells shown. :func:`read_table` joins them back as
``prompt_ids`` / ``target_ids`` (list<int32>). Keeping the ids out of the parquet halves its
bytes and its write time (zstd on gene-id lists: 45% of it, measured at 200k cells).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from c2s.data.checksums import sha256_file

IDS = ("prompt_ids", "target_ids")
GROUP_TOKENS = 4 << 20  # tokens per parquet row group (deterministic: groups follow the rows, not the workers)


U = numba.uint64  # unsigned indices: no negative-index wraparound check per access (see c2s.data.assemble)


@numba.njit(cache=True, inline="always")
def _copy(dst, at, src, lo, n):
    """dst[at:at + n] = src[lo:lo + n] (uint64 positions)."""
    for q in range(n):
        dst[at + U(q)] = src[lo + U(q)]


@numba.njit(cache=True)
def _join_ids(lengths, p_off, p_val, t_off, t_val, tokens):
    """Ragged prompt and target id columns -> a ``.tokens`` array (per row: prompt, target)."""
    at = U(0)
    for r in range(lengths.shape[0]):
        lp, lt = U(lengths[r, 0]), U(lengths[r, 1])
        _copy(tokens, at, p_val, U(p_off[r]), lp)
        _copy(tokens, at + lp, t_val, U(t_off[r]), lt)
        at += lp + lt


@numba.njit(cache=True)
def _split_ids(lengths, tokens, p_off, p_val, t_off, t_val):
    """The inverse of :func:`_join_ids`."""
    at = U(0)
    for r in range(lengths.shape[0]):
        lp, lt = U(lengths[r, 0]), U(lengths[r, 1])
        _copy(p_val, U(p_off[r]), tokens, at, lp)
        _copy(t_val, U(t_off[r]), tokens, at + lp, lt)
        at += lp + lt


def _offsets(n: np.ndarray) -> np.ndarray:
    off = np.zeros(n.size + 1, dtype=np.int64)
    off[1:] = np.cumsum(n)
    return off


class JobWriter:
    """Writes one job's tables into ``{stem}-{i:05d}`` files of ``rows_per_shard`` rows each,
    streaming: ids go to the ``.tokens`` file as each table arrives and rows to the parquet file
    in row groups of ~GROUP_TOKENS tokens, so memory holds a row group, not a shard (a 50k-row
    shard of multi-cell examples held ~500 MB per worker at 1M cells). Groups are cut where the
    token count crosses the bound after a batch; batches are fixed per job (c2s.tasks.columns.BATCH),
    so the bytes do not depend on workers, chunk sizes or parts."""

    def __init__(self, out: Path, stem: str, split: str, task: str, rows_per_shard: int, token_dtype: str) -> None:
        self.out, self.stem, self.split, self.task = out, stem, split, task
        self.rows, self.dtype = rows_per_shard, np.dtype(token_dtype)
        self.files: dict[str, dict[str, Any]] = {}
        self._open: dict[str, Any] | None = None

    def add(self, table: pa.Table) -> None:
        while table.num_rows:
            if self._open is None:
                name = f"{self.stem}-{len(self.files) // 3:05d}"
                self._open = {
                    "name": name,
                    "rows": 0,
                    "lengths": [],
                    "buf": [],
                    "buf_tokens": 0,
                    "tokens": open(self.out / f"{name}.tokens", "wb"),
                    "parquet": pq.ParquetWriter(
                        self.out / f"{name}.parquet",
                        compression="zstd",
                        schema=pa.schema([c for c in table.schema if c.name not in IDS]),
                    ),
                }
            f = self._open
            n = min(table.num_rows, self.rows - f["rows"])
            self._write(table.slice(0, n))
            table = table.slice(n)
            if f["rows"] == self.rows:
                self._close_file()

    def close(self) -> dict[str, dict[str, Any]]:
        if self._open is not None:
            self._close_file()
        return self.files

    def _write(self, part: pa.Table) -> None:
        """Ids to the token file now; rows to the parquet file in row groups of about
        GROUP_TOKENS tokens (batch-sized groups compressed 30% slower)."""
        f = self._open
        p, t = (part[c].combine_chunks() for c in IDS)
        lengths = np.stack(
            [
                pc.list_value_length(p).to_numpy(),
                pc.list_value_length(t).to_numpy(),
                pc.list_value_length(part["cell_ids"].combine_chunks()).to_numpy(),
            ],
            1,
        ).astype(np.int32)
        ids = np.empty(int(lengths[:, :2].sum()), dtype=self.dtype)  # per row: prompt ids then target ids
        (pv, tv), lp, lt = (pc.list_flatten(x).to_numpy() for x in (p, t)), lengths[:, 0], lengths[:, 1]
        _join_ids(lengths, _offsets(lp), pv, _offsets(lt), tv, ids)
        ids.tofile(f["tokens"])
        f["lengths"].append(lengths)
        f["rows"] += part.num_rows
        f["buf"].append(part.drop_columns(list(IDS)))
        f["buf_tokens"] += ids.size
        if f["buf_tokens"] >= GROUP_TOKENS:
            self._write_group()

    def _write_group(self) -> None:
        f = self._open
        if f["buf"]:
            f["parquet"].write_table(pa.concat_tables(f["buf"]), row_group_size=1 << 30)
        f["buf"], f["buf_tokens"] = [], 0

    def _close_file(self) -> None:
        self._write_group()
        f, self._open = self._open, None
        f["parquet"].close()
        f["tokens"].close()
        lengths = np.concatenate(f["lengths"])
        name = f["name"]
        np.save(self.out / f"{name}.lengths.npy", lengths)
        tokens = int(2 * f["rows"] + lengths[:, :2].sum())
        for suffix in (".parquet", ".tokens", ".lengths.npy"):
            self.files[name + suffix] = {
                "split": self.split,
                "task": self.task,
                "rows": f["rows"],
                "tokens": tokens,
                "sha256": sha256_file(self.out / f"{name}{suffix}"),
            }


def read_table(file: Path, token_dtype: str, columns: list[str] | None = None) -> pa.Table:
    """One shard's rows (all or some ``columns``), ``prompt_ids``/``target_ids`` rebuilt from its
    token file. Raises pyarrow's, numpy's or the OS's error on a broken file."""
    ids = [c for c in IDS if columns is None or c in columns]
    table = pq.read_table(file, columns=None if columns is None else [c for c in columns if c not in IDS])
    if ids:
        stem = str(file)[: -len(".parquet")]
        lengths = np.load(stem + ".lengths.npy")
        tokens = np.fromfile(stem + ".tokens", dtype=token_dtype)
        offs = [_offsets(lengths[:, 0]), _offsets(lengths[:, 1])]
        vals = [np.empty(int(o[-1]), dtype=np.int32) for o in offs]
        _split_ids(lengths, tokens, offs[0], vals[0], offs[1], vals[1])
        for c, o, v in zip(IDS, offs, vals):
            if c in ids:
                table = table.append_column(c, pa.ListArray.from_arrays(o.astype(np.int32), v))
    return table
