"""QA items (``data.qa_path``, JSONL): read, checked, and what is dropped counted and named.

An item is ``{"question": str, "answer": str | number, "cell_ids": [str, ...]}`` or ``{..., "group": {role:
value}}``. A line that is not JSON fails the run (the file is broken); an item with a missing or wrongly typed
field, or whose listed cells are all unknown, is dropped, and the drops are counted and the first few named in
a warning (a listed id that is unknown is dropped from its item, also counted).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from c2s.errors import C2SInputError

log = logging.getLogger(__name__)
SHOWN = 3


def _problem(item: Any) -> str | None:
    """Why ``item`` cannot be used (None when it can)."""
    if not isinstance(item, dict):
        return f"a {type(item).__name__}, not an object"
    if not isinstance(item.get("question"), str) or not item["question"].strip():
        return "'question' is not a non-empty string"
    if not isinstance(item.get("answer"), (str, int, float)) or isinstance(item.get("answer"), bool):
        return "'answer' is not a string or number"
    if "cell_ids" in item:
        ids = item["cell_ids"]
        if not isinstance(ids, list) or not ids or not all(isinstance(c, str) for c in ids):
            return "'cell_ids' is not a non-empty list of strings"
    elif "group" in item:
        group = item["group"]
        if (
            not isinstance(group, dict)
            or not group
            or not all(isinstance(v, (str, int, float)) for v in group.values())
        ):
            return "'group' is not a non-empty {role: value} object"
    else:
        return "neither 'cell_ids' nor 'group'"
    return None


def _warn(path: Path, what: str, dropped: list[str], total: int) -> None:
    if dropped:
        log.warning(
            "%s: %d of %d QA items dropped (%s): %s%s.",
            path,
            len(dropped),
            total,
            what,
            "; ".join(dropped[:SHOWN]),
            f"; and {len(dropped) - SHOWN} more" if len(dropped) > SHOWN else "",
        )


def read_qa(path: str | Path) -> list[dict[str, Any]]:
    """The usable items of a QA file, each with ``line`` (its line number)."""
    path = Path(path)
    if not path.is_file():
        raise C2SInputError(f"QA file not found: {path}. Set data.qa_path to a JSONL file or null.")
    items, dropped, total = [], [], 0
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise C2SInputError(f"{path} is not UTF-8 text ({exc.reason}); data.qa_path takes a JSONL file.") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        total += 1
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise C2SInputError(f"{path}:{n}: not valid JSON ({exc}).") from None
        why = _problem(item)
        if why:
            dropped.append(f"line {n}: {why}")
            continue
        items.append({**item, "answer": str(item["answer"]), "line": n})
    _warn(path, "wrongly typed or missing fields", dropped, total)
    return items


def known_cells(items: list[dict[str, Any]], ids: pa.Array, path: str | Path) -> list[dict[str, Any]]:
    """``items`` with unknown ``cell_ids`` removed (counted), and items left with no known cell dropped (named):
    one hashed pass over the listed ids against the corpus's."""
    listed = [c for it in items for c in it.get("cell_ids", [])]
    if not listed:
        return items
    hit = pc.is_in(pa.array(listed, pa.string()), value_set=ids).to_numpy(zero_copy_only=False)
    known = {c for c, h in zip(listed, hit) if h}
    unknown = sorted({c for c, h in zip(listed, hit) if not h})
    if unknown:
        log.warning(
            "%s: %d listed cell id(s) are not in the data (e.g. %s); they are left out of their items. Cell ids "
            "of a dataset of several files are <obs name>-<file stem>.",
            path,
            len(unknown),
            ", ".join(map(repr, unknown[:SHOWN])),
        )
    out, dropped = [], []
    for it in items:
        if "cell_ids" in it:
            cells = [c for c in it["cell_ids"] if c in known]
            if not cells:
                dropped.append(f"line {it['line']}: none of its {len(it['cell_ids'])} cells is in the data")
                continue
            it = {**it, "cell_ids": cells}
        out.append(it)
    _warn(Path(path), "unknown cells", dropped, len(items))
    return out
