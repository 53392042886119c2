"""Sanity of the obs columns mapped to roles, checked once per corpus after the split (O(cells)).

- A column whose values are nearly all distinct (an id or a float column given as a label)
  is refused: nothing in it can be learned or scored.
- A column with one value, and test cells whose label never occurs in training, are warned
  about with the counts: both make a label task trivial or unscoreable, but can be intended
  (``split.holdout`` sends whole labels to test on purpose).
"""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from c2s.errors import C2SInputError

log = logging.getLogger(__name__)
MIN_CELLS = 20  # below this, distinct-value counts say nothing
PREDICTED = ("cell_type", "tissue", "condition")  # roles that tasks ask the model to name


def check_labels(
    roles: Mapping[str, tuple[np.ndarray, np.ndarray]],
    keys: Mapping[str, str],
    split: np.ndarray,
    train: int,
    test: int,
) -> None:
    """``roles``: role -> (category names, integer codes per cell); ``keys``: role -> obs column;
    ``split``: int8 split code per cell, ``train``/``test`` the codes of those splits."""
    n = split.size
    for role, (cats, codes) in roles.items():
        key = f"data.{role}_key={keys[role]!r}"
        if n >= MIN_CELLS and cats.size > 0.5 * n:
            raise C2SInputError(
                f"{key} has {cats.size} distinct values in {n} cells ({cats.size / n:.0%}), e.g. "
                f"{list(cats[:3])}: that is an id or a measurement, not a label shared by cells. Map "
                f"data.{role}_key to a categorical obs column (or null)."
            )
        if cats.size == 1 and n >= MIN_CELLS:
            log.warning(
                "%s has one value (%r) in all %d cells: tasks that predict %s are trivial.", key, cats[0], n, role
            )
        if role not in PREDICTED:
            continue
        in_train = np.zeros(cats.size, dtype=bool)
        in_train[np.unique(codes[split == train])] = True
        test_codes = codes[split == test]
        unseen = ~in_train[test_codes]
        if unseen.any():
            names = sorted(cats[np.unique(test_codes[unseen])])
            log.warning(
                "%d of %d test cells (%.0f%%) have a %s never seen in training (%s%s), so no model can name "
                "them; expected only under split.holdout or split_by.",
                int(unseen.sum()),
                test_codes.size,
                100 * unseen.mean(),
                role,
                ", ".join(map(str, names[:5])),
                f" and {len(names) - 5} more" if len(names) > 5 else "",
            )
