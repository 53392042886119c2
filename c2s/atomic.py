"""Atomic file writes: write to a temporary file beside the target, then rename.

An interrupted run leaves either the old file or the new one, never half of one,
so re-running is always safe. A killed process (kill -9, OOM) leaves its temporary behind;
temporaries are named ``.<target>.tmp@<host>-<pid>-<ns>`` so the next run on the same host
removes those whose process is gone (``sweep_orphans``), and never another machine's.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from c2s.errors import C2SInputError

log = logging.getLogger(__name__)
_HOST = socket.gethostname().replace("/", "_")
_TMP = re.compile(r"\.tmp@(?P<host>.+)-(?P<pid>\d+)-\d+(\.tmp\S*)?$")


def _tag() -> str:
    return f"tmp@{_HOST}-{os.getpid()}-{time.time_ns()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans(root: str | os.PathLike, depth: int = 3) -> int:
    """Remove temporaries under ``root`` (``depth`` levels) left by dead processes of this host;
    returns how many. Live processes' and other hosts' temporaries are left alone."""
    root, n = Path(root), 0
    if not root.is_dir():
        return 0
    for level in range(1, depth + 1):
        for p in root.glob("/".join(["*"] * (level - 1) + [".*.tmp@*"])):
            m = _TMP.search(p.name)
            if m and m["host"] == _HOST and not _alive(int(m["pid"])):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
                n += 1
    if n:
        log.warning("Removed %d temporary file(s)/dir(s) under %s left by interrupted runs.", n, root)
    return n


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success.

    ``suffix`` lets writers that append their own extension (``np.savez``) keep it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{_tag()}.tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp creates 0600; give the file the usual umask-based mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


@contextmanager
def atomic_dir(path: str | os.PathLike, replace: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; rename it onto ``path`` on success.

    ``replace=False``: if ``path`` appeared meanwhile (another process finished the same
    work), keep it and discard ours. The temporary directory never outlives the block.
    """
    path = Path(path)
    if path.is_symlink():  # replacing it would write through or delete what it points at
        raise C2SInputError(
            f"{path} is a symbolic link (to {os.readlink(path)}), where c2s writes a directory of its own. Remove the "
            "link, or write elsewhere (another run_dir, out_dir or shards_root)."
        )
    tmp = path.parent / f".{path.name}.{_tag()}"
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if path.exists() and replace:
            shutil.rmtree(path)
        if not path.exists():
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
