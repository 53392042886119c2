"""The corpus: cell sentences plus the metadata, text and gene sets that tasks render from.

Built once from an AnnData and a data config; tasks only see this object (never AnnData).
Standard metadata columns (present only when mapped in the config): cell_type, tissue,
donor, batch, condition, cluster, caption, niche; plus ``split`` for every cell.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from c2s.data.anndata_io import ExpressionSource
from c2s.data.gene_sets import marker_gene_sets, read_gmt
from c2s.data.splits import apply_holdout, split_cells, split_groups
from c2s.errors import C2SInputError
from c2s.sentences import CellSentences, InverseFit, sentences_from_source
from c2s.sentences.inverse import fit_points, sample_rank_expression

log = logging.getLogger(__name__)
OBS_ROLES = ("cell_type", "tissue", "donor", "batch", "condition", "cluster", "caption", "niche")


@dataclass
class Corpus:
    """Everything the tasks need. Arrays are aligned with ``sentences`` (kept cells)."""

    name: str
    sentences: CellSentences
    obs: pd.DataFrame  # standard role columns + "split", one row per kept cell
    organism: str
    description: str | None = None
    gene_sets: dict[str, list[str]] = field(default_factory=dict)
    gene_set_split: dict[str, str] = field(default_factory=dict)
    spatial: np.ndarray | None = None  # float (n_cells, d)
    qa: list[dict[str, Any]] = field(default_factory=list)  # items carry a seeded "split"
    control_value: str | None = None
    captions: dict[str, str] = field(default_factory=dict)
    inverse_fit: InverseFit | None = None  # rank -> expression, for reconstructing generated cells

    def has(self, role: str) -> bool:
        return role in self.obs.columns

    def cells(self, split: str) -> np.ndarray:
        """Positions of the cells in ``split``."""
        return np.flatnonzero(self.obs["split"].to_numpy() == split)


def _obs_column(adata: ad.AnnData, key: str, role: str) -> pd.Series:
    if key not in adata.obs.columns:
        raise C2SInputError(
            f"data.{role}_key={key!r} is not an obs column. Available columns: {sorted(map(str, adata.obs.columns))}. "
            f"Set data.{role}_key to one of them, or to null to skip the tasks that need it."
        )
    col = adata.obs[key]
    if col.isna().any():
        log.warning("obs[%r] has %d missing values; they become 'unknown'.", key, int(col.isna().sum()))
    return col.astype(str).where(col.notna(), "unknown")


def _read_qa(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise C2SInputError(f"QA file not found: {path}. Set data.qa_path to a JSONL file or null.")
    items = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise C2SInputError(f"{path}:{n}: not valid JSON ({exc}).") from exc
        if not {"question", "answer"} <= item.keys() or not ({"cell_ids", "group"} & item.keys()):
            raise C2SInputError(f"{path}:{n}: a QA item needs 'question', 'answer' and 'cell_ids' or 'group'.")
        items.append(item)
    return items


def _expression(source: ExpressionSource, rows: np.ndarray, max_cells: int, seed: int) -> tuple[ad.AnnData, np.ndarray]:
    """(log-normalised expression, rows used) of at most ``max_cells`` sampled cells, for markers."""
    if rows.size > max_cells:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_cells, replace=False))
    x = source.read_rows(rows)
    return ad.AnnData(sp.csr_matrix(x), var=pd.DataFrame(index=pd.Index(source.gene_names, dtype=str))), rows


def build_corpus(
    data: Mapping[str, Any],
    top_k: int = 100,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    split_by: str | None = None,
    holdout: list[Mapping[str, str]] | None = None,
    marker_genes: int = 20,
) -> Corpus:
    """Read the AnnData named by ``data`` (a DataConfig), make sentences, metadata and splits.

    ``split_by``: null (by cell) or a role (``donor``, ``batch``, ``tissue``) whose groups never
    straddle splits. ``holdout``: combinations of roles (e.g. cell_type + condition) sent to test.
    """
    source = ExpressionSource(
        data["path"], layer=data.get("layer"), use_raw=data.get("use_raw", False), gene_key=data.get("gene_key"),
        matrix_kind=data.get("matrix_kind", "auto"), backed=data.get("backed", False),
    )
    adata = source.adata
    roles = {role: data.get(f"{role}_key") for role in OBS_ROLES}
    columns = {role: _obs_column(adata, key, role) for role, key in roles.items() if key}  # fail fast
    sentences = sentences_from_source(source, top_k=top_k, progress=True)
    obs = pd.DataFrame({r: c.to_numpy()[sentences.rows] for r, c in columns.items()})
    obs.index = pd.Index(sentences.cell_ids.astype(str), name="cell_id")

    if split_by:
        if split_by not in obs.columns:
            raise C2SInputError(f"split_by={split_by!r} needs data.{split_by}_key; mapped roles: {list(obs.columns)}.")
        labels = split_groups(obs[split_by], val_fraction, test_fraction, seed)
    else:
        labels = split_cells(len(obs), val_fraction, test_fraction, seed)
    obs["split"] = apply_holdout(labels, obs, holdout or [])

    description = data.get("description") or adata.uns.get("description") or adata.uns.get("abstract")
    if data.get("gene_sets_gmt"):
        gene_sets = read_gmt(data["gene_sets_gmt"], set(map(str, sentences.gene_names)))
    elif "cell_type" in obs.columns:
        train_rows = np.flatnonzero(obs["split"].to_numpy() == "train")
        expr, used = _expression(source, sentences.rows[train_rows], 20_000, seed)
        pos = np.searchsorted(sentences.rows, used)
        gene_sets = marker_gene_sets(expr, obs["cell_type"].iloc[pos].reset_index(drop=True), n_genes=marker_genes)
    else:
        gene_sets = {}
    set_names = sorted(gene_sets)
    set_split = dict(zip(set_names, split_cells(len(set_names), val_fraction, test_fraction, seed + 1)))

    qa = _read_qa(data["qa_path"]) if data.get("qa_path") else []
    for item, label in zip(qa, split_cells(len(qa), val_fraction, test_fraction, seed + 2)):
        unknown = set(item.get("group", {})) - set(obs.columns)
        if unknown:
            raise C2SInputError(f"QA item groups by {sorted(unknown)}, not mapped roles; mapped: {sorted(obs.columns)}.")
        item["split"] = str(label)

    spatial = None
    key = data.get("spatial_key", "spatial")
    if key in adata.obsm:
        spatial = np.asarray(adata.obsm[key], dtype=np.float64)[sentences.rows]
    rank, value, n_fit = sample_rank_expression(source, n_cells=1000, seed=seed)
    return Corpus(
        inverse_fit=fit_points(rank, value, n_cells=n_fit, top_k=None, seed=seed),
        name=str(data["name"]), sentences=sentences, obs=obs, organism=str(data.get("organism", "human")),
        description=str(description) if description else None, gene_sets=gene_sets, gene_set_split=set_split,
        spatial=spatial, qa=qa,
        control_value=data.get("control_value"), captions=dict(data.get("captions") or {}),
    )
