"""Seeded train/val/test splits: by cell, or by group (donor, batch, dataset), plus held-out
(cell type × condition) combinations for perturbation.

Rules:
- by cell: a seeded permutation, cut at the fractions.
- by group: groups are shuffled (seeded) and filled into splits in turn until each split's
  cell fraction is reached, so no group (and no multi-cell sample drawn within a group)
  spans two splits.
- held-out combinations: every cell matching one is put in ``test``, whatever the rule above
  said, so a model never trains on that (cell type, condition) pair.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from c2s.errors import C2SInputError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


def _fractions(val: float, test: float) -> tuple[float, float, float]:
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise C2SInputError(f"Split fractions val={val}, test={test} must be in [0, 1) with val + test < 1.")
    return 1 - val - test, val, test


def split_cells(n: int, val: float, test: float, seed: int) -> np.ndarray:
    """Per-cell split labels (object array of 'train'/'val'/'test'), seeded."""
    fr = _fractions(val, test)
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.round(np.cumsum(fr)[:2] * n).astype(int)
    labels = np.empty(n, dtype=object)
    for name, part in zip(SPLITS, np.split(order, cuts)):
        labels[part] = name
    return labels


def split_groups(groups: Sequence, val: float, test: float, seed: int) -> np.ndarray:
    """Per-cell split labels such that all cells of a group share a split."""
    import pandas as pd

    fr = _fractions(val, test)
    groups = pd.Series(np.asarray(groups, dtype=str))
    sizes = groups.value_counts().sort_index()
    if len(sizes) < 3:
        log.warning("Only %d groups to split by: some splits will be empty.", len(sizes))
    order = np.random.default_rng(seed).permutation(len(sizes))
    targets = np.asarray(fr) * len(groups)
    filled = np.zeros(3)
    assign: dict[str, str] = {}
    for i in order:  # fill val, then test, then train, each up to its target
        name, size = sizes.index[i], sizes.iloc[i]
        s = next((j for j in (1, 2) if filled[j] + size / 2 <= targets[j]), 0)
        assign[name] = SPLITS[s]
        filled[s] += size
    return groups.map(assign).to_numpy(dtype=object)


def apply_holdout(labels: np.ndarray, obs: pd.DataFrame, holdout: Sequence[Mapping[str, str]]) -> np.ndarray:
    """Move cells matching any held-out combination (e.g. {cell_type: B, condition: stim}) to test."""
    labels = labels.copy()
    for combo in holdout:
        mask = np.ones(len(obs), dtype=bool)
        for key, value in combo.items():
            if key not in obs.columns:
                raise C2SInputError(
                    f"Held-out combination uses {key!r}, which is not mapped; known: {list(obs.columns)}."
                )
            mask &= obs[key].astype(str).to_numpy() == str(value)
        if not mask.any():
            raise C2SInputError(f"Held-out combination {dict(combo)} matches no cell.")
        labels[mask] = "test"
        log.info("Held out %d cells matching %s as test.", int(mask.sum()), dict(combo))
    return labels
