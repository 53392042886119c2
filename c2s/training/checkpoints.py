"""Checkpoints that survive faults: written atomically beside their target, the previous good one
kept as ``<name>.prev``, loaded with ``weights_only=True``, and checked before a resume.

Lightning's own writer stages the file through fsspec's transaction, which writes to ``$TMPDIR``
and *moves* it: across filesystems that is a copy, and a full disk leaves half a ``last.ckpt``.
Here the temporary file sits in the checkpoint's own directory, is fsynced, and is renamed.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from c2s.atomic import atomic_path
from c2s.errors import C2SInputError

log = logging.getLogger(__name__)


def previous(path: str | Path) -> Path:
    """Where the checkpoint that ``path`` replaced is kept."""
    return Path(f"{path}.prev")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save: temp file in the target's directory → fsync → keep the old file as ``.prev`` → rename.
    Load: always ``weights_only=True`` (tensors and plain values; no pickled code)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            if path.is_file():  # a hard link: the old bytes stay reachable until the new file is complete
                with atomic_path(previous(path)) as keep:
                    keep.unlink()
                    os.link(path, keep)

    def load_checkpoint(self, path, map_location: Any | None = None, weights_only: bool | None = None) -> dict:
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)


def _readable(path: Path) -> tuple[int | None, str]:
    """(global_step, "") if ``path`` opens as a Lightning checkpoint, else (None, the reason).
    Memory-mapped: the tensors are not read, so this costs milliseconds even for large files."""
    if path.is_dir():  # a sharded (FSDP) checkpoint: Lightning's meta.pt holds the step
        path = path / "meta.pt"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return int(state["global_step"]), ""
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}"


def resume_point(ckpt: Path, stage_dir: Path) -> tuple[Path, int] | None:
    """The checkpoint to resume from, and its step: ``ckpt`` if it reads, else the previous one
    (the unreadable file is renamed ``*.corrupt``, not deleted). None if neither exists."""
    candidates = [p for p in (ckpt, previous(ckpt)) if p.exists()]
    if not candidates:
        return None
    reasons = []
    for p in candidates:
        step, why = _readable(p)
        if step is not None:
            if p != ckpt:
                bad = Path(f"{ckpt}.corrupt")
                if ckpt.exists():
                    os.replace(ckpt, bad)
                log.error(
                    "%s is unreadable (%s); kept it as %s and resuming from the previous checkpoint %s (step %d).",
                    ckpt,
                    reasons[0],
                    bad.name,
                    p,
                    step,
                )
            return p, step
        reasons.append(why)
    command = shlex.join([Path(sys.executable).name, *sys.argv]) if sys.argv and sys.argv[0] else "python train.py ..."
    raise C2SInputError(
        f"Cannot resume: {ckpt} is unreadable ({reasons[0]})"
        + (f" and so is {previous(ckpt)}" if len(candidates) > 1 else ", and there is no previous one")
        + f". To start this stage over: rm -r {shlex.quote(str(stage_dir))} && {command}"
    )
