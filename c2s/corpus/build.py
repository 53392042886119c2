"""Building a corpus from AnnData: convert the sources into a cell store, map obs roles to
codes, split the cells, and gather gene sets, QA items, coordinates and the inverse fit.
(Kept apart from :mod:`c2s.corpus.corpus`, which render workers load without AnnData.)"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from c2s.config.data import DataConfig
from c2s.config.validate import as_config
from c2s.corpus.cell_store import convert
from c2s.corpus.corpus import OBS_ROLES, Corpus
from c2s.corpus.plan_meta import cell_ids_of, dataset_text_of, description_of, gene_sets_of, inverse_fit_of, spatial_of
from c2s.corpus.qa import known_cells, read_qa
from c2s.corpus.splits import SPLITS, apply_holdout, split_cells, split_groups
from c2s.errors import C2SInputError
from c2s.io.label_checks import check_labels
from c2s.io.labels import safe_labels
from c2s.io.sources import Source, open_source, source_parts

log = logging.getLogger(__name__)


def _codes(col: pd.Series, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(sorted category names, codes in the smallest signed int type that holds them: 1 byte
    per cell for up to 127 categories) of an obs column; missing values become 'unknown'."""
    if col.isna().any():
        log.warning("obs[%r] has %d missing values; they become 'unknown'.", key, int(col.isna().sum()))
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = np.asarray(col.cat.categories.astype(str), dtype=object)
        codes = col.cat.codes.to_numpy().astype(np.int64)
        cats = np.append(cats, "unknown") if (codes < 0).any() else cats
        codes[codes < 0] = cats.size - 1
    else:
        cats, codes = np.unique(
            col.astype(str).where(col.notna(), "unknown").to_numpy(dtype=object), return_inverse=True
        )
    uniq, inverse = np.unique(cats, return_inverse=True)  # sorted and merged: storage-independent
    safe, renamed = safe_labels(uniq, f"obs[{key!r}]")  # distinct labels stay distinct when answers are scored
    if renamed:
        uniq, merged = np.unique(safe, return_inverse=True)  # an empty label joins 'unknown'
        inverse = merged[inverse]
    dtype = np.int8 if uniq.size <= 127 else np.int16 if uniq.size <= 32767 else np.int32
    return np.asarray(uniq, dtype=object), inverse[codes].astype(dtype)


def _sources(data: DataConfig, parts: list[str], upper_case: bool = False) -> list[Source]:
    return [open_source(p, data, upper_case) for p in parts]


def _tmp_store() -> Path:
    d = Path(tempfile.mkdtemp(prefix="c2s-store-"))
    atexit.register(shutil.rmtree, d, True)
    return d / "store"


def build_corpus(
    data: DataConfig | Mapping[str, Any],
    top_k: int = 100,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    split_by: str | None = None,
    holdout: list[Mapping[str, str]] | None = None,
    marker_genes: int = 20,
    store_dir: str | Path | None = None,
    chunk_size: int = 4096,
    progress: bool = True,
    upper_case_genes: bool = False,
) -> Corpus:
    """Read the AnnData source(s) named by ``data`` (a DataConfig, or its dict), convert sentences into a
    store at ``store_dir`` (a temp dir if None), and make metadata and splits.

    ``split_by``: null (by cell) or a role (``donor``, ``batch``, ``tissue``) whose groups never
    straddle splits. ``holdout``: combinations of roles (e.g. cell_type + condition) sent to test.
    ``upper_case_genes``: gene names upper-cased (the c2s_scale prompt format).
    """
    data = as_config(DataConfig, data, "data")
    files = source_parts(str(data.path))  # listed once: the sources and their cell ids follow this order
    sources = _sources(data, files, upper_case_genes)
    roles_keys = {role: getattr(data, f"{role}_key") for role in OBS_ROLES if getattr(data, f"{role}_key")}
    for role, key in roles_keys.items():  # fail fast, before conversion
        for s in sources:
            if key not in s.obs_keys:
                raise C2SInputError(
                    f"data.{role}_key={key!r} is not an obs column. "
                    f"Available columns: {sorted(s.obs_keys)}. "
                    f"Set data.{role}_key to one of them, or to null to skip the tasks that need it."
                )
    store = convert(sources, top_k, store_dir or _tmp_store(), chunk_size=chunk_size, progress=progress)
    roles = {}
    for role, key in roles_keys.items():
        col = (
            pd.concat([s.obs_column(key).iloc[kept] for s, kept in zip(sources, store.kept)], ignore_index=True)
            if len(sources) > 1
            else sources[0].obs_column(key).iloc[store.kept[0]]
        )
        roles[role] = _codes(col, key)
        del col
    ids = cell_ids_of(sources, store.kept, files)
    n = len(store)
    if split_by:
        if split_by not in roles:
            raise C2SInputError(f"split_by={split_by!r} needs data.{split_by}_key; mapped roles: {sorted(roles)}.")
        cats, codes = roles[split_by]
        labels = split_groups(cats[codes], val_fraction, test_fraction, seed)
    else:
        labels = split_cells(n, val_fraction, test_fraction, seed)
    if holdout:
        needed = {k for combo in holdout for k in combo}
        view = pd.DataFrame({k: roles[k][0][roles[k][1]] for k in needed if k in roles})
        labels = apply_holdout(labels, view, holdout)
    split = np.zeros(n, dtype=np.int8)
    for j, s in enumerate(SPLITS):
        split[labels == s] = j
    del labels
    sizes = np.bincount(split, minlength=len(SPLITS))
    wanted = {"train": 1.0, "val": val_fraction, "test": test_fraction}
    empty = [s for j, s in enumerate(SPLITS) if sizes[j] == 0 and wanted[s] > 0]
    if empty:
        msg = (
            f"{n} cells{f' in {len(roles[split_by][0])} {split_by} groups' if split_by else ''} leave the "
            f"{' and '.join(empty)} split(s) empty (val_fraction={val_fraction}, test_fraction={test_fraction})."
        )
        if "train" in empty or not split_by:  # by cell, an empty split means too few cells to learn or score
            raise C2SInputError(f"{msg} Give more cells, or set the empty split's fraction to 0.")
        log.warning(
            "%s Groups are whole, so with few groups a split can be empty; use more groups or "
            "split_by=null to score on that split.",
            msg,
        )
    check_labels(roles, roles_keys, split, SPLITS.index("train"), SPLITS.index("test"))

    corpus = Corpus(
        name=str(data.name),
        sentences=store,
        roles=roles,
        split=split,
        cell_ids=ids,
        organism=str(data.organism),
        description=description_of(data, sources[0]),
        dataset_text=dataset_text_of(data, sources),
        control_value=data.control_value,
        captions=dict(data.captions or {}),
    )
    corpus.gene_sets, corpus.gene_set_split = gene_sets_of(
        corpus, data, sources, seed, marker_genes, val_fraction, test_fraction
    )
    corpus.qa = known_cells(read_qa(data.qa_path), ids, data.qa_path) if data.qa_path else []
    for item, label in zip(corpus.qa, split_cells(len(corpus.qa), val_fraction, test_fraction, seed + 2)):
        unknown = set(item.get("group", {})) - set(roles)
        if unknown:
            raise C2SInputError(f"QA item groups by {sorted(unknown)}, not mapped roles; mapped: {sorted(roles)}.")
        item["split"] = str(label)
    corpus.spatial = spatial_of(data, sources, store)
    corpus.inverse_fit = inverse_fit_of(sources, seed)
    for s in sources:  # now, not when collected: the caller may rewrite a file next
        s.close()
    return corpus
