"""A data path (a file, a directory of .h5ad files, a glob, or a scanpy:/synthetic: name) -> its input files."""

from __future__ import annotations

import glob
from pathlib import Path

from c2s.errors import C2SInputError


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
        raise C2SInputError(
            f"data.path={path!r} matches no .h5ad file. Give a file, a directory of .h5ad files or a glob."
        )
    return files
