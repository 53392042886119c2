"""Seeded splits: by cell, by group (no group straddles splits), held-out combinations."""

import numpy as np
import pandas as pd
import pytest

from c2s.corpus.build import build_corpus
from c2s.corpus.splits import apply_holdout, split_cells, split_groups
from c2s.errors import C2SInputError
from tests.conftest import SYNTHETIC_DATA


def test_split_cells_seeded_and_sized():
    a = split_cells(1000, 0.1, 0.2, seed=3)
    assert (a == split_cells(1000, 0.1, 0.2, seed=3)).all()
    assert not (a == split_cells(1000, 0.1, 0.2, seed=4)).all()
    assert {s: int((a == s).sum()) for s in ("train", "val", "test")} == {"train": 700, "val": 100, "test": 200}


def test_split_groups_never_straddle():
    groups = np.repeat([f"d{i}" for i in range(20)], np.arange(20) + 5)
    labels = split_groups(groups, 0.1, 0.1, seed=0)
    df = pd.DataFrame({"g": groups, "s": labels})
    assert (df.groupby("g")["s"].nunique() == 1).all()
    assert set(labels) == {"train", "val", "test"}


def test_holdout_goes_to_test():
    obs = pd.DataFrame({"cell_type": ["B", "B", "T", "T"], "condition": ["ctrl", "stim", "ctrl", "stim"]})
    labels = apply_holdout(np.array(["train"] * 4, dtype=object), obs, [{"cell_type": "B", "condition": "stim"}])
    assert labels.tolist() == ["train", "test", "train", "train"]
    with pytest.raises(C2SInputError, match="matches no cell"):
        apply_holdout(labels, obs, [{"cell_type": "NK", "condition": "stim"}])


def test_corpus_group_split_and_holdout():
    corpus = build_corpus(
        SYNTHETIC_DATA, top_k=20, split_by="donor", holdout=[{"cell_type": "B cell", "condition": "stimulated"}]
    )
    obs = corpus.obs
    held = (obs["cell_type"] == "B cell") & (obs["condition"] == "stimulated")
    assert (obs.loc[held, "split"] == "test").all()
    rest = obs[~held]
    assert (rest.groupby("donor")["split"].nunique() == 1).all()


def test_missing_obs_key_lists_columns():
    with pytest.raises(
        C2SInputError, match=r"data.tissue_key='organ' is not an obs column. Available columns: \[.*'batch'"
    ):
        build_corpus(dict(SYNTHETIC_DATA, tissue_key="organ"))


@pytest.mark.parametrize("n_names,dtype", [(2, np.int8), (126, np.int8), (127, np.int16), (40_000, np.int32)])
def test_role_codes_are_sorted_names_in_the_smallest_int(n_names, dtype):
    """Codes index the sorted names (string and categorical columns alike; missing -> 'unknown')
    in the smallest signed int type: 1 byte per cell for the usual few labels. With 'unknown',
    n_names + 1 categories."""
    from c2s.corpus.build import _codes

    rng = np.random.default_rng(0)
    values = np.array([f"L{i:05d}" for i in rng.integers(0, n_names, 3 * n_names)], dtype=object)
    values[:n_names] = [f"L{i:05d}" for i in range(n_names)]  # every name occurs
    values[n_names] = None
    for col in (pd.Series(values), pd.Series(values, dtype="category")):
        cats, codes = _codes(col, "label")
        assert codes.dtype == dtype and list(cats) == sorted(cats) and len(cats) == n_names + 1
        assert list(cats[codes]) == [v if v is not None else "unknown" for v in values]
