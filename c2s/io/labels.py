"""Label text: how answers are normalised for scoring, and labels made safe for it at prepare.

Scoring compares ``normalize_label(answer)`` with ``normalize_label(reference)``. That normalisation case-folds,
keeps the first line and cuts at the first period that ends a sentence (a model goes on after ``B cell.``), so two
distinct labels of the data could become one scored class (``NK cell`` and ``nk CELL``), a label could lose its
tail (``T cell. CD4+, naive``), and an empty label would be trained and then matched by an empty answer.
``safe_labels`` fixes the labels themselves, once, before any example is rendered: every change is logged.
"""

from __future__ import annotations

import logging
import re

import numpy as np

log = logging.getLogger(__name__)
EMPTY = "unknown"  # what an empty label becomes (as missing values do)


def normalize_label(text: str) -> str:
    """Case-folded, whitespace-collapsed answer: the first line, up to the first period that ends a
    sentence (the c2s_scale format answers ``B cell.`` and a model may go on after it), trailing
    punctuation removed."""
    first = text.strip().split("\n")[0]
    first = re.split(r"\.(?:\s|$)", first, maxsplit=1)[0]
    return re.sub(r"\s+", " ", first).strip().strip(".,;:").casefold()


def _clean(label: str) -> str:
    """One line, whitespace collapsed, no sentence-ending period inside (``. `` -> ``, ``), no trailing
    ``.,;:``, and ``unknown`` for an empty label: text that ``normalize_label`` keeps whole."""
    text = re.sub(r"\s+", " ", str(label)).strip()
    text = re.sub(r"\.(?=\s)", ",", text).strip().rstrip(".,;:").strip()
    return text or EMPTY


def safe_labels(cats: np.ndarray, what: str) -> tuple[np.ndarray, dict[str, str]]:
    """``cats`` (distinct label strings, in their order) made safe for scoring: ``normalize_label`` keeps each
    whole and gives distinct labels distinct keys. A label that normalisation would cut is cleaned
    (``_clean``); labels that still collide keep the first in order and the others get the lowest free `` (n)``, n >= 2.
    Returns (labels, {old: new} of those changed); the changes are logged, naming ``what`` (e.g. the obs key).
    An empty label becomes ``unknown``, as missing values do, and merges with it: the caller re-codes merged
    names (``np.unique`` of the result)."""
    out = [_clean(c) for c in cats]
    seen: dict[str, str] = {}  # normalised key -> the label that holds it
    for i, new in enumerate(out):
        key, n = normalize_label(new), 2
        if key not in seen or (new == EMPTY and seen[key] == EMPTY):
            seen[key] = new
            continue
        while normalize_label(f"{new} ({n})") in seen:
            n += 1
        out[i] = f"{new} ({n})"
        seen[normalize_label(out[i])] = out[i]
    renamed = {str(c): o for c, o in zip(cats, out) if str(c) != o}
    if renamed:
        shown = "; ".join(f"{k!r} -> {v!r}" for k, v in list(renamed.items())[:5])
        log.warning(
            "%s: %d label(s) renamed so that scoring, which case-folds answers and cuts them at the first line or "
            "sentence, keeps distinct labels distinct and none empty: %s%s.",
            what,
            len(renamed),
            shown,
            f" and {len(renamed) - 5} more" if len(renamed) > 5 else "",
        )
    return np.asarray(out, dtype=object), renamed
