"""What an input file holds, as a sha256, so shards built from a replaced file are never reused.

Hashing reads the file once; the digest is cached in ``<shards_root>/.input-hashes.json``
keyed by (absolute path, size, mtime_ns, inode), so unchanged files are not re-read.
``synthetic:`` and ``scanpy:`` sources are generated or bundled: their name is their content.
"""

from __future__ import annotations

import json
from pathlib import Path

from c2s.atomic import write_json_atomic
from c2s.data.checksums import sha256_file


def content_hash(path: str, cache_dir: str | Path) -> str:
    if path.startswith(("synthetic:", "scanpy:")):
        return path
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        return f"missing:{p}"  # reading it fails later with a clear error
    st = p.stat()
    key = f"{p}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"
    cache = Path(cache_dir) / ".input-hashes.json"
    try:
        known = json.loads(cache.read_text()) if cache.is_file() else {}
    except (json.JSONDecodeError, OSError):
        known = {}
    if key not in known:
        known = {k: v for k, v in known.items() if not k.startswith(f"{p}|")} | {key: sha256_file(p)}
        try:
            write_json_atomic(cache, known)
        except OSError:
            pass  # a read-only shards_root only loses the cache
    return known[key]
