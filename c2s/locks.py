"""Directory locks: one run per run directory, one writer per shard directory.

A lock is a POSIX record lock (``fcntl.lockf``) on ``<dir>/.c2s.lock``, which also records the holder (host, pid,
start time) for the message another process sees. The kernel drops the lock when its process dies, however it
dies (kill -9 included), so a stale lock file is never an obstacle: the next process takes it over. Record locks
also work across hosts on NFS (through its lock manager).

Only the launching process of a distributed job locks (global rank 0): the other ranks of the same job belong to
the run it holds.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from c2s.errors import C2SInputError

log = logging.getLogger(__name__)
NAME = ".c2s.lock"


def launcher_rank() -> int:
    """This process's global rank as the launchers set it (0 when not distributed)."""
    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK"):
        value = os.environ.get(key)
        if value and value.isdigit() and int(value) > 0:
            if key == "SLURM_PROCID" and int(os.environ.get("SLURM_NTASKS", "1")) <= 1:
                continue
            return int(value)
    return 0


def _holder(f) -> str:
    try:
        f.seek(0)
        h = json.loads(f.read() or "{}")
        return f"pid {h['pid']} on host {h['host']} (since {h['started']})"
    except (ValueError, KeyError, TypeError):
        return "another process"


def dir_lock(directory: str | Path, what: str, wait: bool = False):
    """Hold ``directory``'s lock (``<directory>/.c2s.lock``) for the block; see ``file_lock``."""
    return file_lock(Path(directory) / NAME, Path(directory), what, wait)


@contextmanager
def file_lock(path: Path, directory: Path, what: str, wait: bool = False, remove: bool = False) -> Iterator[None]:
    """Hold the lock file ``path`` (guarding ``directory``) for the block. Held by another live process: raise
    naming it and ``what`` (the config key to change), or with ``wait`` block until it is free (logged).
    ``remove``: delete the lock file on release (a waiter then holds a lock on the deleted file: safe only where
    it re-checks whether the work is done, as prepare does)."""
    if launcher_rank() != 0:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        f.seek(0)
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(f)
            if not wait:
                raise C2SInputError(
                    f"{directory} is in use by {holder}: two runs in one directory would write each other's "
                    f"checkpoints and history. Wait for it to finish, or give another {what}."
                ) from None
            log.warning("%s is being written by %s; waiting for it.", directory, holder)
            fcntl.lockf(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        f.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": started}))
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()  # released: an empty file names no holder
            if remove:
                path.unlink(missing_ok=True)
            fcntl.lockf(f, fcntl.LOCK_UN)
