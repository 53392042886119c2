"""What an input file holds, as a sha256, so shards built from a replaced file are never reused.

Hashing reads the file once; the digest is cached in ``<shards_root>/.input-hashes.json``
keyed by (absolute path, size, mtime_ns, inode), so unchanged files are not re-read.
``synthetic:`` and ``scanpy:`` sources are generated or bundled: their name is their content.
"""

from __future__ import annotations

from pathlib import Path

from c2s.data.checksums import read_digest_cache, sha256_file, state_key, write_digest_cache


def content_hash(path: str, cache_dir: str | Path) -> str:
    if path.startswith(("synthetic:", "scanpy:")):
        return path
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        return f"missing:{p}"  # reading it fails later with a clear error
    key = state_key(p, str(p))
    cache = Path(cache_dir) / ".input-hashes.json"
    known = read_digest_cache(cache)
    if key not in known:
        known = {k: v for k, v in known.items() if not k.startswith(f"{p}|")} | {key: sha256_file(p)}
        write_digest_cache(cache, known)  # a read-only shards_root only loses the cache
    return known[key]
