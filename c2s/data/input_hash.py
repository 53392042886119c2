"""What the inputs hold, so shards built from replaced data are never reused.

Each source names its parts' content (c2s.io.sources ``identity``): a string (generated or bundled data,
whose name is their content; a database version) is taken as it is; a file is its bytes' sha256. Hashing
reads a file once; digests are cached in ``<shards_root>/.input-hashes.json`` keyed by (absolute path,
size, mtime_ns, inode), so unchanged files are not re-read. The cache is read and written once per call,
whatever the number of files (once per file had made a directory of thousands of files quadratic).
"""

from __future__ import annotations

from pathlib import Path

from c2s.data.checksums import read_digest_cache, sha256_file, state_key, state_name, write_digest_cache


def content_hashes(identities: list[str | Path], cache_dir: str | Path) -> list[str]:
    """One identity per input part, in order: strings as given, files as their sha256 (``missing:<path>``
    for a file that is not there: reading it fails later with a clear error)."""
    cache = Path(cache_dir) / ".input-hashes.json"
    known, fresh, out = read_digest_cache(cache), False, []
    key_of = {state_name(k): k for k in known}  # path -> its cached key
    for ident in identities:
        if not isinstance(ident, Path):
            out.append(str(ident))
            continue
        p = ident.expanduser().resolve()
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


SIDE_FILES = ("gene_sets_gmt", "qa_path", "dataset_text_csv", "interactions_csv")  # data-config files tasks read


def side_file_hashes(datas: list, cache_dir: str | Path) -> list[str]:
    """The content hashes of the side files the data configs name (a GMT, QA, dataset text, interaction table),
    so editing one in place gives new shards; a ``liana:`` table is the pinned package's (its name)."""
    files = [getattr(d, k) for d in datas for k in SIDE_FILES if getattr(d, k, None)]
    return content_hashes([f if f.startswith("liana:") else Path(f) for f in files], cache_dir) if files else []
