"""Gene-interaction knowledge (ligand–receptor, protein–protein) for the interaction tasks and the spatial prompts'
interaction context (the preprint's Figure 6B–C).

The default resource is the consensus ligand–receptor table liana ships inside its wheel
(``liana/resource/omni_resource.csv``; ``consensus`` for human, ``mouseconsensus`` for mouse). The file is found
through the installed distribution's metadata and read with pandas: liana itself is never imported (its import
pulls plotnine and mudata, seconds). ``data.interactions_csv`` takes a user's table instead (a CellPhoneDB or
BioGRID export): two gene columns and an optional ``type``; ``liana:<resource>`` picks another of liana's
bundled resources (e.g. ``liana:cellphonedb``).

Complexes (``ITGA1_ITGB1``) become one pair per subunit. Gene names match the data's exactly, else
case-insensitively where that is unambiguous (mouse data often lower-cases symbols). Only pairs whose genes are
both in the data are kept; what is dropped is counted and logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from c2s.errors import C2SInputError

if TYPE_CHECKING:  # pandas is imported where a table is read: every render worker imports this module
    import pandas as pd

log = logging.getLogger(__name__)
LIANA_VERSION = "1.10.0"  # the pinned extra (pyproject: interactions); its table is what the tests were run on
LIANA_FILE = "liana/resource/omni_resource.csv"
DEFAULT_RESOURCE = {"human": "consensus", "mouse": "mouseconsensus"}
COLUMNS = (("ligand", "receptor"), ("gene_a", "gene_b"), ("source_genesymbol", "target_genesymbol"))


@dataclass(frozen=True)
class Interactions:
    """Directed gene pairs in the data's gene ids: ``pairs`` int32 (m, 2) = (ligand or partner A, receptor or B),
    unique, sorted; ``types`` (m,) their kind (``ligand-receptor`` unless the table says); ``origin`` names the
    table; ``split`` int8 (m,) index into SPLITS, by ligand (a ligand's facts are held out together)."""

    pairs: np.ndarray
    types: np.ndarray
    origin: str
    split: np.ndarray

    def __len__(self) -> int:
        return int(self.pairs.shape[0])


def liana_table(resource: str) -> tuple[pd.DataFrame, str]:
    """(pairs of liana's ``resource``, origin); raises C2SInputError if liana is not installed."""
    from importlib.metadata import PackageNotFoundError, distribution

    import pandas as pd

    try:
        dist = distribution("liana")
    except PackageNotFoundError:
        raise C2SInputError(
            "The interaction resource is liana's bundled table, but liana is not installed: "
            "pip install 'c2s[interactions]', or set data.interactions_csv to your own table."
        ) from None
    if dist.version != LIANA_VERSION:
        log.warning(
            "liana %s is installed; c2s pins %s: its interaction table may differ.", dist.version, LIANA_VERSION
        )
    df = pd.read_csv(Path(str(dist.locate_file(LIANA_FILE))), index_col=0)
    known = sorted(df["resource"].unique())
    if resource not in known:
        raise C2SInputError(f"liana has no resource {resource!r}; it ships {known}. Set data.interactions_csv.")
    df = df[df["resource"] == resource]
    table = pd.DataFrame({"a": df["source_genesymbol"], "b": df["target_genesymbol"], "type": "ligand-receptor"})
    return table, f"liana {dist.version} {resource}"


def read_table(path: str) -> tuple[pd.DataFrame, str]:
    """(pairs, origin) of a user's CSV/TSV: gene columns ``ligand,receptor`` (or ``gene_a,gene_b``, or liana's
    ``source_genesymbol,target_genesymbol``), optional ``type``."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise C2SInputError(f"Interaction table not found: {p}. Set data.interactions_csv to a CSV file, or null.")
    try:
        df = pd.read_csv(p, sep=None, engine="python", dtype=str)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise C2SInputError(f"{p} is not a readable CSV table ({type(exc).__name__}): give a CSV with a header.")
    cols = next((c for c in COLUMNS if set(c) <= set(df.columns)), None)
    if cols is None:
        raise C2SInputError(
            f"{p} has columns {list(df.columns)[:8]}; an interaction table needs a pair of gene columns named "
            f"{' or '.join('/'.join(c) for c in COLUMNS)} (plus optional type)."
        )
    kind = df["type"].fillna("interaction") if "type" in df else "interaction"
    return pd.DataFrame({"a": df[cols[0]], "b": df[cols[1]], "type": kind}), p.name


def _subunits(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (subunit of a, subunit of b): complexes are written ``A_B``."""
    t = table.dropna(subset=["a", "b"]).astype({"a": str, "b": str})
    t = t.assign(a=t["a"].str.split("_"), b=t["b"].str.split("_")).explode("a").explode("b")
    return t[(t["a"] != "") & (t["b"] != "")]


def match_genes(names: pd.Series, gene_names: np.ndarray) -> np.ndarray:
    """Gene id of each name in ``gene_names`` (-1 if absent): exact, else case-insensitive if unique."""
    import pandas as pd

    genes = pd.Index(np.asarray(gene_names, dtype=str))
    exact = genes.get_indexer(names)
    folded = pd.Series(np.arange(genes.size), index=genes.str.lower())
    folded = folded[~folded.index.duplicated(keep=False)]  # two genes that differ by case: exact only
    loose = folded.reindex(names.str.lower()).fillna(-1).to_numpy(dtype=np.int64)
    return np.where(exact >= 0, exact, loose)


def build_interactions(
    data_csv: str | None, organism: str, gene_names: np.ndarray, val: float, test: float, seed: int
) -> Interactions:
    """The pairs of the configured table whose genes are both in ``gene_names`` (see the module docstring), split
    by ligand with the data's fractions (seeded)."""
    from c2s.corpus.splits import SPLITS, split_groups

    if data_csv is None or data_csv.startswith("liana:"):
        resource = data_csv[len("liana:") :] if data_csv else DEFAULT_RESOURCE.get(organism.lower(), "consensus")
        table, origin = liana_table(resource)
    else:
        table, origin = read_table(data_csv)
    rows = _subunits(table)
    a, b = match_genes(rows["a"], gene_names), match_genes(rows["b"], gene_names)
    keep = (a >= 0) & (b >= 0) & (a != b)
    pairs = np.c_[a[keep], b[keep]].astype(np.int32)
    pairs, first = np.unique(pairs, axis=0, return_index=True) if keep.any() else (pairs.reshape(0, 2), [])
    types = rows["type"].to_numpy(dtype=object)[keep][first] if keep.any() else np.zeros(0, dtype=object)
    log.info(
        "Interactions (%s): %d table rows -> %d gene pairs (complexes split into subunits); %d have both genes in "
        "the data (%d left out); %d distinct pairs kept.",
        origin,
        len(table),
        len(rows),
        int(keep.sum()),
        int((~keep).sum()),
        len(pairs),
    )
    labels = split_groups(pairs[:, 0], val, test, seed) if len(pairs) else np.zeros(0, dtype=object)
    split = np.array([SPLITS.index(x) for x in labels], dtype=np.int8)
    return Interactions(pairs, np.asarray(types, dtype=object), origin, split)
