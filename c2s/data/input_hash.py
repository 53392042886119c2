"""What the input files hold, as sha256s, so shards built from a replaced file are never reused.

Hashing reads a file once; digests are cached in ``<shards_root>/.input-hashes.json`` keyed by
(absolute path, size, mtime_ns, inode), so unchanged files are not re-read. The cache is read
and written once per call, whatever the number of files (once per file had made a directory
of thousands of files quadratic). ``synthetic:`` and ``scanpy:`` sources are generated or
bundled: their name is their content.
"""

from __future__ import annotations

from pathlib import Path

from c2s.data.checksums import read_digest_cache, sha256_file, state_key, state_name, write_digest_cache


def content_hashes(paths: list[str], cache_dir: str | Path) -> list[str]:
    """One digest per path, in order (``missing:<path>`` for a file that is not there: reading
    it fails later with a clear error)."""
    cache = Path(cache_dir) / ".input-hashes.json"
    known, fresh, out = read_digest_cache(cache), False, []
    key_of = {state_name(k): k for k in known}  # path -> its cached key
    for path in paths:
        if path.startswith(("synthetic:", "scanpy:")):
            out.append(path)
            continue
        p = Path(path).expanduser().resolve()
        if not p.is_file():
            out.append(f"missing:{p}")
            continue
        key = state_key(p, str(p))
        if key not in known:
            known.pop(key_of.get(str(p), ""), None)  # the file's stale digest
            known[key], fresh = sha256_file(p), True
        out.append(known[key])
    if fresh:
        write_digest_cache(cache, known)  # a read-only shards_root only loses the cache
    return out
