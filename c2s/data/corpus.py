"""The corpus: cell sentences (on disk) plus the metadata, text and gene sets that tasks render from.

Built once from AnnData sources and a data config; tasks only see this object (never AnnData).
Metadata is compact: each mapped role (cell_type, tissue, donor, batch, condition, cluster,
caption, niche) is sorted category names plus an int32 code per cell; splits are int8 codes;
cell ids an Arrow string array. ``save``/``load`` round-trip it through memory-mappable files,
so render workers share one copy through the page cache.
"""

from __future__ import annotations

import atexit
import glob
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from c2s.data.anndata_io import ExpressionSource
from c2s.data.cell_store import CellStore, convert
from c2s.data.label_checks import check_labels
from c2s.data.plan_meta import description_of, gene_sets_of, inverse_fit_of, spatial_of
from c2s.data.splits import SPLITS, apply_holdout, split_cells, split_groups
from c2s.errors import C2SInputError
from c2s.sentences import InverseFit

log = logging.getLogger(__name__)
OBS_ROLES = ("cell_type", "tissue", "donor", "batch", "sample", "condition", "cluster", "caption", "niche")


@dataclass
class Corpus:
    """Everything the tasks need. Per-cell arrays are aligned with ``sentences`` (kept cells)."""

    name: str
    sentences: CellStore
    roles: dict[str, tuple[np.ndarray, np.ndarray]]  # role -> (sorted category names, int32 codes)
    split: np.ndarray  # int8 (n_cells,): index into SPLITS
    cell_ids: pa.Array  # string (n_cells,)
    organism: str
    description: str | None = None
    gene_sets: dict[str, list[str]] = field(default_factory=dict)
    gene_set_split: dict[str, str] = field(default_factory=dict)
    spatial: np.ndarray | None = None  # float (n_cells, d)
    qa: list[dict[str, Any]] = field(default_factory=list)  # items carry a seeded "split"
    control_value: str | None = None
    captions: dict[str, str] = field(default_factory=dict)
    inverse_fit: InverseFit | None = None  # rank -> expression, for reconstructing generated cells
    neighbours: dict[str, np.ndarray] = field(default_factory=dict)  # split -> int32 (n_split, k), filled by plan

    def has(self, role: str) -> bool:
        return role in self.roles

    def cells(self, split: str) -> np.ndarray:
        """Positions of the cells in ``split`` (int64, ascending)."""
        return np.flatnonzero(self.split == SPLITS.index(split))

    def labels(self, role: str, cells: np.ndarray | None = None) -> np.ndarray:
        """Role values (object array of str) of ``cells`` (all by default)."""
        cats, codes = self.roles[role]
        return cats[codes if cells is None else codes[cells]]

    def cell_id(self, i: int) -> str:
        return self.cell_ids[int(i)].as_py()

    @property
    def obs(self) -> pd.DataFrame:
        """Roles and split as a DataFrame indexed by cell id (O(n) strings: for small data and tests)."""
        df = pd.DataFrame({r: self.labels(r) for r in self.roles})
        df["split"] = np.asarray(SPLITS, dtype=object)[self.split]
        df.index = pd.Index(self.cell_ids.to_pylist(), name="cell_id")
        return df

    def save(self, path: str | Path) -> None:
        """Write into the (new, empty) directory ``path``; the store stays where it is."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.save(path / "split.npy", self.split)
        for r, (cats, codes) in self.roles.items():
            np.save(path / f"role-{r}.npy", codes)
        if self.spatial is not None:
            np.save(path / "spatial.npy", self.spatial)
        for s, nb in self.neighbours.items():
            np.save(path / f"neighbours-{s}.npy", nb)
        with pa.OSFile(str(path / "cell_ids.arrow"), "wb") as f, pa.ipc.new_file(f, pa.schema([("id", pa.string())])) as w:
            w.write_table(pa.table({"id": self.cell_ids}))
        meta = {"name": self.name, "store": str(self.sentences.path), "organism": self.organism,
                "description": self.description, "gene_sets": self.gene_sets, "gene_set_split": self.gene_set_split,
                "qa": self.qa, "control_value": self.control_value, "captions": self.captions,
                "inverse_fit": asdict(self.inverse_fit) if self.inverse_fit else None,
                "roles": {r: [str(c) for c in cats] for r, (cats, _) in self.roles.items()},
                "spatial": self.spatial is not None, "neighbours": sorted(self.neighbours)}
        (path / "corpus.json").write_text(json.dumps(meta, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> "Corpus":
        """Open a saved corpus; per-cell arrays are memory-mapped (read-only)."""
        path = Path(path)
        m = json.loads((path / "corpus.json").read_text())
        ids = pa.ipc.open_file(pa.memory_map(str(path / "cell_ids.arrow"))).read_all()["id"].combine_chunks()
        return cls(
            name=m["name"], sentences=CellStore.open(m["store"]), cell_ids=ids, organism=m["organism"],
            roles={r: (np.array(c, dtype=object), np.load(path / f"role-{r}.npy", mmap_mode="r")) for r, c in m["roles"].items()},
            split=np.load(path / "split.npy", mmap_mode="r"), description=m["description"], gene_sets=m["gene_sets"],
            gene_set_split=m["gene_set_split"], qa=m["qa"], control_value=m["control_value"], captions=m["captions"],
            spatial=np.load(path / "spatial.npy", mmap_mode="r") if m["spatial"] else None,
            inverse_fit=InverseFit(**m["inverse_fit"]) if m["inverse_fit"] else None,
            neighbours={s: np.load(path / f"neighbours-{s}.npy", mmap_mode="r") for s in m["neighbours"]},
        )


def input_files(path: str) -> list[str]:
    """One data path -> its files: a file, a directory of ``*.h5ad``, or a glob (sorted)."""
    if path.startswith(("synthetic:", "scanpy:")):
        return [path]
    p = Path(path).expanduser()
    if p.is_dir():
        files = sorted(str(f) for f in p.glob("*.h5ad"))
    elif any(c in path for c in "*?["):
        files = sorted(glob.glob(str(p)))
    else:
        return [path]
    if not files:
        raise C2SInputError(f"data.path={path!r} matches no .h5ad file. Give a file, a directory of .h5ad files or a glob.")
    return files


def _codes(col: pd.Series, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(sorted category names, int32 codes) of an obs column; missing values become 'unknown'."""
    if col.isna().any():
        log.warning("obs[%r] has %d missing values; they become 'unknown'.", key, int(col.isna().sum()))
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = np.asarray(col.cat.categories.astype(str), dtype=object)
        codes = col.cat.codes.to_numpy().astype(np.int64)
        cats = np.append(cats, "unknown") if (codes < 0).any() else cats
        codes[codes < 0] = cats.size - 1
    else:
        cats, codes = np.unique(col.astype(str).where(col.notna(), "unknown").to_numpy(dtype=object), return_inverse=True)
    uniq, inverse = np.unique(cats, return_inverse=True)  # sorted and merged: storage-independent
    return np.asarray(uniq, dtype=object), inverse[codes].astype(np.int32)


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


def _sources(data: Mapping[str, Any], upper_case: bool = False) -> list[ExpressionSource]:
    return [ExpressionSource(f, layer=data.get("layer"), use_raw=data.get("use_raw", False), gene_key=data.get("gene_key"),
                             matrix_kind=data.get("matrix_kind", "auto"), backed=data.get("backed", False),
                             upper_case=upper_case)
            for f in input_files(str(data["path"]))]


def _tmp_store() -> Path:
    d = Path(tempfile.mkdtemp(prefix="c2s-store-"))
    atexit.register(shutil.rmtree, d, True)
    return d / "store"


def build_corpus(
    data: Mapping[str, Any],
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
    """Read the AnnData source(s) named by ``data`` (a DataConfig), convert sentences into a
    store at ``store_dir`` (a temp dir if None), and make metadata and splits.

    ``split_by``: null (by cell) or a role (``donor``, ``batch``, ``tissue``) whose groups never
    straddle splits. ``holdout``: combinations of roles (e.g. cell_type + condition) sent to test.
    ``upper_case_genes``: gene names upper-cased (the c2s_scale prompt format).
    """
    sources = _sources(data, upper_case_genes)
    roles_keys = {role: data.get(f"{role}_key") for role in OBS_ROLES if data.get(f"{role}_key")}
    for role, key in roles_keys.items():  # fail fast, before conversion
        for s in sources:
            if key not in s.adata.obs.columns:
                raise C2SInputError(
                    f"data.{role}_key={key!r} is not an obs column. Available columns: {sorted(map(str, s.adata.obs.columns))}. "
                    f"Set data.{role}_key to one of them, or to null to skip the tasks that need it.")
    store = convert(sources, top_k, store_dir or _tmp_store(), chunk_size=chunk_size, progress=progress)
    roles = {}
    for role, key in roles_keys.items():
        col = pd.concat([s.adata.obs[key].iloc[kept] for s, kept in zip(sources, store.kept)], ignore_index=True) \
            if len(sources) > 1 else sources[0].adata.obs[key].iloc[store.kept[0]]
        roles[role] = _codes(col, key)
    ids = pa.concat_arrays([pa.array(np.asarray(s.adata.obs_names)[kept].astype(str)) for s, kept in zip(sources, store.kept)])
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
        msg = (f"{n} cells{f' in {len(roles[split_by][0])} {split_by} groups' if split_by else ''} leave the "
               f"{' and '.join(empty)} split(s) empty (val_fraction={val_fraction}, test_fraction={test_fraction}).")
        if "train" in empty or not split_by:  # by cell, an empty split means too few cells to learn or score
            raise C2SInputError(f"{msg} Give more cells, or set the empty split's fraction to 0.")
        log.warning("%s Groups are whole, so with few groups a split can be empty; use more groups or "
                    "split_by=null to score on that split.", msg)
    check_labels(roles, roles_keys, split, SPLITS.index("train"), SPLITS.index("test"))

    corpus = Corpus(name=str(data["name"]), sentences=store, roles=roles, split=split, cell_ids=ids,
                    organism=str(data.get("organism", "human")), description=description_of(data, sources[0]),
                    control_value=data.get("control_value"), captions=dict(data.get("captions") or {}))
    corpus.gene_sets, corpus.gene_set_split = gene_sets_of(corpus, data, sources, seed, marker_genes,
                                                           val_fraction, test_fraction)
    corpus.qa = _read_qa(data["qa_path"]) if data.get("qa_path") else []
    for item, label in zip(corpus.qa, split_cells(len(corpus.qa), val_fraction, test_fraction, seed + 2)):
        unknown = set(item.get("group", {})) - set(roles)
        if unknown:
            raise C2SInputError(f"QA item groups by {sorted(unknown)}, not mapped roles; mapped: {sorted(roles)}.")
        item["split"] = str(label)
    corpus.spatial = spatial_of(data, sources, store)
    corpus.inverse_fit = inverse_fit_of(sources, seed)
    return corpus
