"""Corpus-wide decisions drawn from ``obs``/``obsm`` and bounded samples of cells: cell ids,
the description, marker gene sets, the inverse fit, spatial coordinates and neighbours."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import anndata as ad
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from c2s.corpus.gene_sets import marker_gene_sets, read_gmt
from c2s.corpus.splits import SPLITS, split_cells
from c2s.errors import C2SInputError
from c2s.io.sources import Source
from c2s.sentences import InverseFit
from c2s.sentences.inverse import fit_points, sample_rank_expression

if TYPE_CHECKING:
    from c2s.config.data import DataConfig
    from c2s.corpus.cell_store import CellStore
    from c2s.corpus.corpus import Corpus

log = logging.getLogger(__name__)
MARKER_CELLS = 20_000  # cells sampled for marker genes (bounded memory at any corpus size)
QUERY_CELLS = 1 << 16  # cells per neighbour query (its distances and indices are 16 bytes per neighbour)


def cell_ids_of(sources: Sequence[Source], kept: Sequence[np.ndarray], files: list[str]) -> pa.Array:
    """Each kept cell's id (an Arrow string array): its obs name, and in a dataset of several
    files ``<obs name>-<file stem>`` (anndata.concat's ``index_unique`` convention: barcodes
    repeat across runs). Stems shared by files in different folders become the path below the
    folder they share. Names repeated within one file are made unique as anndata's ``obs_names_make_unique`` does
    (``x``, ``x-1``, …), with a warning: QA items and shard rows name cells by id (one hashed pass per file,
    about 0.4 s per million cells)."""
    parts = [_unique(s.cell_ids(k), f) for s, k, f in zip(sources, kept, files)]
    if len(parts) > 1:
        stems = [Path(f).stem for f in files]
        if len(set(stems)) < len(stems):
            top = os.path.commonpath([os.path.abspath(f) for f in files])
            stems = [Path(os.path.relpath(os.path.abspath(f), top)).with_suffix("").as_posix() for f in files]
        parts = [pc.binary_join_element_wise(p, pa.scalar(st), "-").cast(pa.string()) for p, st in zip(parts, stems)]
    return pa.concat_arrays(parts) if parts else pa.array([], pa.string())


def _unique(ids: pa.Array, where: str) -> pa.Array:
    """``ids`` with repeats renamed as ``anndata.utils.make_index_unique`` renames them (logged)."""
    if ids.null_count == 0 and len(pc.unique(ids)) == len(ids):  # unique: 7x faster than count_distinct
        return ids
    from anndata.utils import make_index_unique

    old = pd.Index(ids.to_numpy(zero_copy_only=False).astype(str))
    new = make_index_unique(old)
    changed = np.flatnonzero(old != new)
    log.warning(
        "%s: %d cell names repeat (e.g. %s); made unique as anndata does (%s), so cell ids tell cells apart.",
        where,
        changed.size,
        ", ".join(repr(old[i]) for i in changed[:3]),
        ", ".join(f"{old[i]} -> {new[i]}" for i in changed[:3]),
    )
    return pa.array(np.asarray(new, dtype=object), pa.string())


def description_of(data: "DataConfig", source: Source) -> str | None:
    d = data.description or source.uns("description") or source.uns("abstract")
    return str(d) if d else None


def dataset_text_of(data: "DataConfig", sources: Sequence[Source]) -> dict[str, str]:
    """{dataset id: description}: what the sources give (``uns("dataset_text")``: the Census's dataset table),
    then the rows of ``data.dataset_text_csv`` (``dataset_id,text``) over them."""
    import csv

    out: dict[str, str] = {}
    for s in sources:
        out.update({str(k): str(v) for k, v in (s.uns("dataset_text") or {}).items()})
    if data.dataset_text_csv:
        path = Path(data.dataset_text_csv)
        if not path.is_file():
            raise C2SInputError(f"data.dataset_text_csv={str(path)!r}: no such file (a CSV of dataset_id,text).")
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if not {"dataset_id", "text"} <= set(reader.fieldnames or []):
                raise C2SInputError(f"{path} needs the columns dataset_id and text; it has {reader.fieldnames}.")
            out.update({r["dataset_id"]: r["text"] for r in reader if r["dataset_id"] and r["text"]})
    if out and not data.dataset_key:
        log.warning("Dataset descriptions were given but data.dataset_key is not set: they are not used.")
    return out


def gene_sets_of(
    corpus: "Corpus",
    data: "DataConfig",
    sources: Sequence[Source],
    seed: int,
    n_genes: int,
    val_fraction: float,
    test_fraction: float,
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(gene sets, set -> split): from a GMT file, else t-test markers per cell type on at most
    MARKER_CELLS seeded train cells drawn from every file (columns mapped onto the genes of all files)."""
    from c2s.corpus.cell_store import gene_union

    store = corpus.sentences
    if data.gene_sets_gmt:
        sets = read_gmt(data.gene_sets_gmt, set(map(str, store.gene_names)))
    elif corpus.has("cell_type"):
        train = np.flatnonzero(corpus.split == SPLITS.index("train"))
        if train.size > MARKER_CELLS:
            train = np.sort(np.random.default_rng(seed).choice(train, MARKER_CELLS, replace=False))
        names, maps = gene_union(sources)
        edges = np.concatenate([[0], np.cumsum([k.size for k in store.kept])])
        blocks = []
        for s, kept, gmap, lo, hi in zip(sources, store.kept, maps, edges[:-1], edges[1:]):
            x = sp.csr_matrix(s.read_rows(kept[train[(train >= lo) & (train < hi)] - lo]))
            blocks.append(sp.csr_matrix((x.data, gmap[x.indices], x.indptr), shape=(x.shape[0], names.size)))
        x = sp.vstack(blocks).tocsr()
        x.sort_indices()
        expr = ad.AnnData(x, var=pd.DataFrame(index=pd.Index(names.astype(str), dtype=str)))
        sets = marker_gene_sets(expr, pd.Series(corpus.labels("cell_type", train)), n_genes=n_genes)
    else:
        sets = {}
    names = sorted(sets)
    return sets, dict(zip(names, (str(s) for s in split_cells(len(names), val_fraction, test_fraction, seed + 1))))


def inverse_fit_of(sources: Sequence[Source], seed: int) -> InverseFit:
    """The rank -> expression fit on 1000 seeded cells drawn from every file."""
    rank, value, n_fit = sample_rank_expression(list(sources), n_cells=1000, seed=seed)
    return fit_points(rank, value, n_cells=n_fit, top_k=None, seed=seed)


def spatial_of(data: "DataConfig", sources: Sequence[Source], store: "CellStore") -> np.ndarray | None:
    key = data.spatial_key
    coords = [s.obsm(key) for s in sources]
    if any(c is None for c in coords):
        return None
    try:
        xy = np.concatenate([np.asarray(c, dtype=np.float64)[kept] for c, kept in zip(coords, store.kept)])
    except (TypeError, ValueError) as exc:
        raise C2SInputError(f"obsm[{key!r}] is not a numeric (cells, dims) array ({exc}).") from None
    if xy.ndim != 2:
        raise C2SInputError(f"obsm[{key!r}] has shape {xy.shape}; spatial coordinates are a (cells, dims) array.")
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        raise C2SInputError(
            f"obsm[{key!r}] has NaN or infinite coordinates for {int(bad.sum())} of {len(xy)} cells: neighbours "
            "cannot be found for them. Drop those cells (or fix their coordinates), or point data.spatial_key at "
            "another obsm entry."
        )
    return xy


def spatial_neighbours(corpus: "Corpus", split: str, k: int) -> np.ndarray:
    """int32 (n_split, k'): the k nearest cells (same split, same section, self excluded) of each
    cell of ``split``, as corpus positions; k' = min(k, n_split - 1). Sections (``sample`` role,
    else ``batch``) have their own coordinate frames, so neighbours never cross them; a cell whose
    section has fewer than k' + 1 cells of the split gets a row of -1 (no full neighbourhood).
    KD-tree per section (scipy's cKDTree: O(n log n); sklearn's import alone cost 0.6 s of the
    plan), queried on every core this process may use (0.76 -> 0.40 s per 262k cells on 2).
    A cell's own row is dropped by identity, not by rank, so duplicate coordinates cannot make
    a cell its own neighbour."""
    from scipy.spatial import cKDTree

    cells = corpus.cells(split)
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    k = min(k, cells.size - 1)
    if k < 1:
        return np.zeros((cells.size, 0), dtype=np.int32)
    role = "sample" if corpus.has("sample") else "batch" if corpus.has("batch") else None
    section = np.asarray(corpus.roles[role][1])[cells] if role else np.zeros(cells.size, dtype=np.int32)
    pts = np.asarray(corpus.spatial)[cells]
    out = np.full((cells.size, k), -1, dtype=np.int32)
    by_section = np.argsort(section, kind="stable")  # one sort, not a scan of every cell per section
    _, first, sizes = np.unique(section[by_section], return_index=True, return_counts=True)
    for a, n in zip(first, sizes):
        mine = by_section[a : a + n]  # the section's cells, ascending
        if mine.size < k + 1:
            continue
        tree = cKDTree(pts[mine])
        for b in range(0, mine.size, QUERY_CELLS):  # queried in blocks: (k + 1) x 16 bytes per cell at once
            q = np.arange(b, min(b + QUERY_CELLS, mine.size))
            _, idx = tree.query(pts[mine[q]], k=k + 1, workers=threads)  # per point: any thread count, same result
            drop = idx == q[:, None]
            drop[~drop.any(1), -1] = True  # self tied beyond the k + 1 nearest: drop the farthest
            out[mine[q]] = cells[mine[idx[~drop].reshape(q.size, k)]]
    if role and (out[:, 0] < 0).any():
        log.warning(
            "%d %s cells lie in %s sections with fewer than %d cells; spatial tasks skip them.",
            int((out[:, 0] < 0).sum()),
            split,
            role,
            k + 1,
        )
    return out


def interactions_of(data: "DataConfig", corpus: "Corpus", val: float, test: float, seed: int):
    """The interaction pairs for ``corpus`` (c2s.corpus.interactions), or None with the reason logged when the
    default table (liana's) is not installed; a configured table that cannot be read raises."""
    from c2s.corpus.interactions import build_interactions

    try:
        return build_interactions(
            data.interactions_csv, corpus.organism, corpus.sentences.gene_names, val, test, seed + 3
        )
    except C2SInputError as exc:
        if data.interactions_csv is not None:
            raise
        log.warning("No interaction table: %s", exc)
        return None


def add_task_meta(
    corpus: "Corpus", data: "DataConfig", tasks: list, k: int, val: float, test: float, seed: int
) -> None:
    """What the ``tasks`` need beyond the corpus, computed only then: the ``k`` spatial neighbours of each split,
    and the interaction table."""
    if corpus.spatial is not None and any("spatial" in t.requires for t in tasks):
        for s in SPLITS:
            if corpus.cells(s).size >= k + 2:
                corpus.neighbours[s] = spatial_neighbours(corpus, s, k)
    if any(t.uses_interactions() for t in tasks):
        corpus.interactions = interactions_of(data, corpus, val, test, seed)
