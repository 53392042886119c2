"""Checksums of files and manifests, and the digest caches keyed by a file's state (hashlib and
json only: the training stream's processes import this, not pyarrow)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from c2s.atomic import write_json_atomic


def sha256_file(path: str | Path, block: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes, read in ``block``-byte pieces (memory: one block)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(block), b""):
            h.update(piece)
    return h.hexdigest()


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON without its ``checksum`` key."""
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def sealed(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with its checksum, so an edit (e.g. a train file relabelled val) is caught on read."""
    return dict(manifest, checksum=manifest_checksum(manifest))


def state_key(path: Path, name: str) -> str:
    """``name`` with the file's size, mtime_ns and inode: a file rewritten, copied or touched
    gets a new key, so a digest cached under the old one is not trusted."""
    st = path.stat()
    return f"{name}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"


def state_name(key: str) -> str:
    """The ``name`` a :func:`state_key` was made from."""
    return key.rsplit("|", 3)[0]


def read_digest_cache(path: Path) -> dict[str, str]:
    """A digest cache (JSON object), or {} when it is missing or unreadable."""
    try:
        known = json.loads(path.read_text())
        return known if isinstance(known, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def write_digest_cache(path: Path, known: dict[str, str]) -> None:
    """Write a digest cache atomically; a read-only directory only loses the cache."""
    try:
        write_json_atomic(path, known)
    except OSError:
        pass
