"""Records in columns: a batch of task records as arrays, the form the renderer consumes.

A text field is ``(codes, values)``: example i shows ``values[codes[i]]`` (labels repeat, so
each distinct prompt is formatted once). A gene field is ragged per example: cells (each
shown as its first ``k`` genes; one ``Cell j:`` line per cell when ``numbered``) or explicit
gene ids (one list: a gene set). The built-in tasks build columns with numpy, a whole split's at
once cut ``BATCH`` at a time (:func:`chunks`); a plugin task may yield record dicts instead, which
:func:`from_records` turns into the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any, Iterable, Iterator, NamedTuple

import numpy as np

BATCH = 4096  # records per batch (fixed: template draws happen per batch, so it defines the output)


class Genes(NamedTuple):
    """A gene slot: the first ``k`` genes of each of ``cells`` (one line ``Cell j: …`` per cell
    when ``numbered``), or the explicit gene ids ``ids`` (a gene set)."""

    cells: np.ndarray | None = None
    k: int = 0
    numbered: bool = False
    ids: np.ndarray | None = None


@dataclass(frozen=True)
class GeneField:
    """Ragged per example: ``flat[off[i]:off[i + 1]]`` are example i's cells (or gene ids)."""

    off: np.ndarray  # int64 (n + 1,)
    flat: np.ndarray  # int64: corpus positions, or gene ids when ``explicit``
    k: int = 0
    numbered: bool = False
    explicit: bool = False

    def counts(self) -> np.ndarray:
        return np.diff(self.off)

    def rows(self, a: int, b: int) -> "GeneField":
        """Examples a..b-1."""
        off, flat = cut((self.off, self.flat), a, b)
        return GeneField(off, flat, self.k, self.numbered, self.explicit)


@dataclass(frozen=True)
class Columns:
    n: int
    cells: tuple[np.ndarray, np.ndarray]  # ragged (offsets (n + 1,), corpus positions): the cell_ids column
    text: dict[str, tuple[np.ndarray, np.ndarray]]  # field -> (int64 codes (n,), object values)
    genes: dict[str, GeneField]

    def rows(self, a: int, b: int) -> "Columns":
        """Examples a..b-1 (text fields keep their values; codes index them)."""
        text = {f: (codes[a:b], values) for f, (codes, values) in self.text.items()}
        return Columns(b - a, cut(self.cells, a, b), text, {f: g.rows(a, b) for f, g in self.genes.items()})


def chunks(cols: Columns) -> Iterator[Columns]:
    """``cols`` as Columns of ``BATCH`` examples (the last one shorter): what :func:`batched` gives for
    the same records."""
    for a in range(0, cols.n, BATCH):
        yield cols.rows(a, min(a + BATCH, cols.n))


def cut(rag: tuple[np.ndarray, np.ndarray], a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Items a..b-1 of a ragged (offsets, flat) pair."""
    off, flat = rag
    return off[a : b + 1] - off[a], flat[off[a] : off[b]]


def ragged(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(offsets (len + 1,), concatenation) of int arrays."""
    off = np.zeros(len(seqs) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(s) for s in seqs])
    flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs]) if seqs else np.zeros(0, np.int64)
    return off, flat


def fixed(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ragged form of an (n, m) array: m items per example."""
    rows = np.asarray(rows, dtype=np.int64)
    n, m = rows.shape
    return np.arange(n + 1, dtype=np.int64) * m, rows.reshape(-1)


def cells_field(rows: np.ndarray, k: int, numbered: bool = False) -> GeneField:
    """Gene field of an (n, m) array of cells (m = 1: one sentence per example)."""
    off, flat = fixed(rows)
    return GeneField(off, flat, k, numbered)


def const(value: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n, dtype=np.int64), np.array([str(value)], dtype=object)


def encode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Text field of per-example values (strings or ints): distinct values sorted."""
    uniq, codes = np.unique(np.asarray(values), return_inverse=True)
    return codes.astype(np.int64).reshape(-1), np.array([str(u) for u in uniq], dtype=object)


def coded(cats: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Text field from categorical codes (a corpus role's ``(categories, codes)`` taken at cells)."""
    return np.asarray(codes, dtype=np.int64), np.asarray(cats, dtype=object)


def from_records(records: list[dict[str, Any]]) -> Columns:
    """Columns of record dicts (fields: ``cells``, text values, and ``Genes`` slots)."""
    n = len(records)
    text, genes = {}, {}
    for f, v in records[0].items():
        if f == "cells":
            continue
        if isinstance(v, Genes):
            explicit = v.ids is not None
            off, flat = ragged([r[f].ids if explicit else r[f].cells for r in records])
            genes[f] = GeneField(off, flat, v.k, v.numbered, explicit)
        else:
            index: dict[str, int] = {}
            codes = np.array([index.setdefault(str(r[f]), len(index)) for r in records], dtype=np.int64)
            text[f] = codes, np.array(list(index), dtype=object)
    return Columns(n, ragged([r["cells"] for r in records]), text, genes)


def batched(records: Iterable[dict[str, Any]]) -> Iterator[Columns]:
    """Record dicts -> Columns of ``BATCH`` records (the last one shorter)."""
    it = iter(records)
    while chunk := list(islice(it, BATCH)):
        yield from_records(chunk)
