"""Input digests (c2s.data.input_hash): sha256 of the bytes, cached by file state, one cache
read and write per call."""

import hashlib
import json
import os

from c2s.data import input_hash
from c2s.data.input_hash import content_hashes


def test_digests_are_the_bytes_sha256_and_cached(tmp_path, monkeypatch):
    files = []
    for i in range(5):
        f = tmp_path / f"f{i}.h5ad"
        f.write_bytes(bytes([i]) * (1000 + i))
        files.append(f)  # a Path: a file identified by its bytes (c2s.io.sources identity)
    want = [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in files]
    calls = []
    real = input_hash.sha256_file
    monkeypatch.setattr(input_hash, "sha256_file", lambda p: calls.append(p) or real(p))
    assert content_hashes(files + ["synthetic:3"], tmp_path) == want + ["synthetic:3"]
    assert len(calls) == 5
    assert content_hashes(files, tmp_path) == want and len(calls) == 5  # unchanged: from the cache
    (tmp_path / "f2.h5ad").write_bytes(b"new bytes")
    os.utime(files[2], ns=(1, 1))  # a rewrite that keeps the size would still change mtime/inode
    got = content_hashes(files, tmp_path)
    assert got[2] == hashlib.sha256(b"new bytes").hexdigest() and got[:2] == want[:2] and len(calls) == 6
    cache = json.loads((tmp_path / ".input-hashes.json").read_text())
    assert len(cache) == 5  # the rewritten file's stale entry is gone
    assert content_hashes([tmp_path / "gone.h5ad"], tmp_path) == [f"missing:{tmp_path / 'gone.h5ad'}"]


def test_a_side_file_edited_in_place_gives_new_shards(tmp_path):
    """The interaction table (like a GMT, QA or dataset-text file) is hashed by content, not by path."""
    from c2s.data.prepare import config_hash
    from tests.conftest import prepare_config

    table = tmp_path / "pairs.csv"
    table.write_text("ligand,receptor\nG1,G2\n")
    cfg = prepare_config(tmp_path, f"data.interactions_csv={table}")
    before = config_hash(cfg)
    assert config_hash(cfg) == before
    table.write_text("ligand,receptor\nG1,G3\n")
    os.utime(table, ns=(1, 1))  # a different state for the digest cache, whatever the clock
    assert config_hash(cfg) != before
    assert config_hash(prepare_config(tmp_path, "data.interactions_csv=liana:consensus")) != before
