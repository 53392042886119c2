"""The corpus: cell sentences (on disk) plus the metadata, text and gene sets that tasks render from.

Built once from AnnData sources and a data config (c2s.corpus.build); tasks only see this
object (never AnnData).
Metadata is compact: each mapped role (cell_type, tissue, donor, batch, condition, cluster,
caption, niche) is sorted category names plus a code per cell (int8 up to 127 names); splits are int8 codes;
cell ids an Arrow string array. ``save``/``load`` round-trip it through memory-mappable files,
so render workers share one copy through the page cache.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from c2s.corpus.cell_store import CellStore
from c2s.corpus.interactions import Interactions
from c2s.corpus.splits import SPLITS
from c2s.sentences.inverse import InverseFit

if TYPE_CHECKING:
    import pandas as pd

OBS_ROLES = ("cell_type", "tissue", "donor", "batch", "sample", "condition", "cluster", "caption", "niche", "dataset")


@dataclass
class Corpus:
    """Everything the tasks need. Per-cell arrays are aligned with ``sentences`` (kept cells)."""

    name: str
    sentences: CellStore
    roles: dict[str, tuple[np.ndarray, np.ndarray]]  # role -> (sorted category names, int8/16/32 codes)
    split: np.ndarray  # int8 (n_cells,): index into SPLITS
    cell_ids: pa.Array  # string (n_cells,)
    organism: str
    description: str | None = None
    dataset_text: dict[str, str] = field(default_factory=dict)  # dataset role value -> its description
    gene_sets: dict[str, list[str]] = field(default_factory=dict)
    gene_set_split: dict[str, str] = field(default_factory=dict)
    spatial: np.ndarray | None = None  # float (n_cells, d)
    qa: list[dict[str, Any]] = field(default_factory=list)  # items carry a seeded "split"
    control_value: str | None = None
    captions: dict[str, str] = field(default_factory=dict)
    inverse_fit: InverseFit | None = None  # rank -> expression, for reconstructing generated cells
    neighbours: dict[str, np.ndarray] = field(default_factory=dict)  # split -> int32 (n_split, k), filled by plan
    interactions: Interactions | None = None  # gene pairs in the data, filled by plan when a task uses them

    def has(self, role: str) -> bool:
        return role in self.roles

    def has_description(self) -> bool:
        """A dataset-level text exists: one for the corpus, or one per dataset (with the dataset role mapped)."""
        return bool(self.description) or (bool(self.dataset_text) and self.has("dataset"))

    def descriptions(self, cells: np.ndarray) -> np.ndarray:
        """The description of each cell's dataset (object array of str): its dataset's text where there is one,
        else the corpus's."""
        default = self.description or ""
        if not (self.dataset_text and self.has("dataset")):
            return np.full(len(cells), default, dtype=object)
        return np.array([self.dataset_text.get(str(d), default) for d in self.labels("dataset", cells)], dtype=object)

    def cells(self, split: str) -> np.ndarray:
        """Positions of the cells in ``split`` (int64, ascending)."""
        return np.flatnonzero(self.split == SPLITS.index(split))

    def labels(self, role: str, cells: np.ndarray | None = None) -> np.ndarray:
        """Role values (object array of str) of ``cells`` (all by default)."""
        cats, codes = self.roles[role]
        return cats[codes if cells is None else codes[cells]]

    def release(self) -> None:
        """Drop this process's mapped pages of the loaded per-cell arrays (they stay in the page
        cache, shared): a render worker calls it after each job, so its RSS does not keep every
        job's touched metadata (~110 bytes per cell)."""
        import mmap

        for a in [self.split, self.spatial, *(codes for _, codes in self.roles.values()), *self.neighbours.values()]:
            m = getattr(getattr(a, "base", None), "_mmap", None)
            if m is not None:
                m.madvise(mmap.MADV_DONTNEED)
        self.sentences.release()

    def cell_id(self, i: int) -> str:
        return self.cell_ids[int(i)].as_py()

    @property
    def obs(self) -> pd.DataFrame:
        """Roles and split as a DataFrame indexed by cell id (O(n) strings: for small data and tests)."""
        import pandas as pd

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
        if self.interactions is not None:
            np.save(path / "interactions.npy", self.interactions.pairs)
            np.save(path / "interaction-split.npy", self.interactions.split)
        with (
            pa.OSFile(str(path / "cell_ids.arrow"), "wb") as f,
            pa.ipc.new_file(f, pa.schema([("id", pa.string())])) as w,
        ):
            w.write_table(pa.table({"id": self.cell_ids}))
        meta = {
            "name": self.name,
            "store": str(self.sentences.path),
            "organism": self.organism,
            "description": self.description,
            **({"dataset_text": self.dataset_text} if self.dataset_text else {}),
            "gene_sets": self.gene_sets,
            "gene_set_split": self.gene_set_split,
            "qa": self.qa,
            "control_value": self.control_value,
            "captions": self.captions,
            "inverse_fit": asdict(self.inverse_fit) if self.inverse_fit else None,
            "roles": {r: [str(c) for c in cats] for r, (cats, _) in self.roles.items()},
            "spatial": self.spatial is not None,
            "neighbours": sorted(self.neighbours),
            **(
                {
                    "interactions": {
                        "types": [str(t) for t in self.interactions.types],
                        "origin": self.interactions.origin,
                    }
                }
                if self.interactions is not None
                else {}
            ),
        }
        (path / "corpus.json").write_text(json.dumps(meta, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> "Corpus":
        """Open a saved corpus; per-cell arrays are memory-mapped (read-only)."""
        path = Path(path)
        m = json.loads((path / "corpus.json").read_text())
        ids = pa.ipc.open_file(pa.memory_map(str(path / "cell_ids.arrow"))).read_all()["id"].combine_chunks()
        return cls(
            name=m["name"],
            sentences=CellStore.open(m["store"]),
            cell_ids=ids,
            organism=m["organism"],
            roles={r: (np.array(c, dtype=object), _mapped(path / f"role-{r}.npy")) for r, c in m["roles"].items()},
            split=_mapped(path / "split.npy"),
            description=m["description"],
            dataset_text=m.get("dataset_text", {}),
            gene_sets=m["gene_sets"],
            gene_set_split=m["gene_set_split"],
            qa=m["qa"],
            control_value=m["control_value"],
            captions=m["captions"],
            spatial=_mapped(path / "spatial.npy") if m["spatial"] else None,
            inverse_fit=InverseFit(**m["inverse_fit"]) if m["inverse_fit"] else None,
            neighbours={s: _mapped(path / f"neighbours-{s}.npy") for s in m["neighbours"]},
            interactions=Interactions(
                np.load(path / "interactions.npy"),
                np.array(m["interactions"]["types"], dtype=object),
                m["interactions"]["origin"],
                np.load(path / "interaction-split.npy"),
            )
            if "interactions" in m
            else None,
        )


def _mapped(path: Path) -> np.ndarray:
    """A read-only memory-mapped .npy as a plain ndarray (np.memmap's per-slice bookkeeping
    cost 0.7 s of a 200k-cell render)."""
    return np.load(path, mmap_mode="r").view(np.ndarray)


def gene_usage(corpora: list[Corpus]) -> tuple[list[str], np.ndarray]:
    """(gene symbols, cells whose sentence names each) over every corpus. Corpora of different files have
    different gene columns, so genes are matched by name; order: first appearance, corpus by corpus."""
    names = np.concatenate([np.asarray(c.sentences.gene_names).astype(str) for c in corpora])
    counts = np.concatenate([np.asarray(c.sentences.gene_counts, dtype=np.int64) for c in corpora])
    uniq, first, inverse = np.unique(names, return_index=True, return_inverse=True)
    total = np.bincount(inverse, weights=counts, minlength=uniq.size).astype(np.int64)
    order = np.argsort(first, kind="stable")
    return [str(g) for g in uniq[order]], total[order]
