"""Prepare step: shards + manifest written atomically, reused, checked; errors name the file."""

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from c2s.data.checksums import sealed
from c2s.data.prepare import prepare, shard_dir
from c2s.data.shards import ShardSet
from c2s.errors import C2SInputError
from tests.conftest import prepare_config


def test_manifest_contents(synthetic_shards):
    m = json.loads((synthetic_shards / "manifest.json").read_text())
    assert set(m["counts"]) == {"train", "val", "test"}
    assert m["counts"]["train"]["cell_type_annotation"] == m["cells_per_split"]["train"]
    assert m["skipped_tasks"] == {"qa": "no qa (set it in the data config)"}
    assert len(m["tokenizer_id"]) == 16 and len(m["config_hash"]) == 12 and m["seed"] == 0
    parquet = [f for f in m["files"] if f.endswith(".parquet")]
    total = sum(m["files"][f]["rows"] for f in parquet)
    assert total == sum(sum(c.values()) for c in m["counts"].values())
    rows = sum(pq.read_metadata(synthetic_shards / f).num_rows for f in parquet)
    assert rows == total
    assert (synthetic_shards / "inverse_fit.json").exists() and (
        synthetic_shards / "tokenizer" / "tokenizer.json"
    ).exists()
    assert not list(synthetic_shards.parent.glob(".*tmp*"))


def test_token_columns_round_trip(synthetic_shards):
    shards = ShardSet(synthetic_shards)
    tok = shards.tokenizer()
    tab = shards.read(shards.files("val")[0]).to_pylist()
    for row in tab[:20]:
        assert tok.decode(row["prompt_ids"]) == row["prompt"]
        assert tok.decode(row["target_ids"]).removeprefix(" ") == row["target"]  # targets follow a space
        assert row["n_tokens"] == 2 + len(row["prompt_ids"]) + len(row["target_ids"])


def test_reuse_and_new_dir_on_change(tmp_path):
    cfg = prepare_config(tmp_path, "tasks.names=[cell_type_annotation]")
    out = prepare(cfg)
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert prepare(cfg) == out and (out / "manifest.json").stat().st_mtime_ns == stamp
    other = prepare(prepare_config(tmp_path, "tasks.names=[cell_type_annotation]", "seed=1"))
    assert other != out and other.parent == out.parent
    assert shard_dir(cfg) == out


def _copy(src, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def test_corrupt_shard_named(synthetic_shards, tmp_path):
    d = _copy(synthetic_shards, tmp_path)
    f = sorted(d.glob("train-*.parquet"))[0]
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(C2SInputError, match=f"Shard .*{f.name} does not match its manifest checksum"):
        ShardSet(d)


def test_verified_digests_are_cached_by_file_state(synthetic_shards, tmp_path, monkeypatch):
    """A second open hashes nothing; a file changed after it was verified is hashed again and caught."""
    import c2s.data.shards as shards_mod

    d = _copy(synthetic_shards, tmp_path)
    hashed = []
    real = shards_mod.sha256_file
    monkeypatch.setattr(shards_mod, "sha256_file", lambda f: hashed.append(f.name) or real(f))
    n_files = len(ShardSet(d).manifest["files"])
    assert len(hashed) == n_files and (d / ".verified.json").is_file()
    hashed.clear()
    ShardSet(d)
    assert hashed == []
    f = sorted(d.glob("train-*.tokens"))[0]
    data = bytearray(f.read_bytes())
    data[0] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(C2SInputError, match=f"Shard .*{f.name} does not match its manifest checksum"):
        ShardSet(d)
    assert hashed == [f.name]


def test_truncated_shard_named(synthetic_shards, tmp_path):
    d = _copy(synthetic_shards, tmp_path)
    f = sorted(d.glob("val-*.parquet"))[0]
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(C2SInputError, match=f"{f.name}"):
        ShardSet(d)
    shards = ShardSet(d, verify=False)  # unchecked: the reader still names the file
    with pytest.raises(C2SInputError, match=f"Shard .*{f.name} could not be read"):
        shards.read(f)


def test_manifest_problems(synthetic_shards, tmp_path):
    d = _copy(synthetic_shards, tmp_path)
    m = json.loads((d / "manifest.json").read_text())
    name = next(iter(m["files"]))
    m["files"][name]["sha256"] = "0" * 64
    (d / "manifest.json").write_text(json.dumps(sealed(m)))
    with pytest.raises(C2SInputError, match=name):
        ShardSet(d)
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(C2SInputError, match="manifest.json is corrupt"):
        ShardSet(d)
    with pytest.raises(C2SInputError, match="No manifest.json"):
        ShardSet(tmp_path)


def test_missing_obs_key_fails_before_work(tmp_path):
    with pytest.raises(C2SInputError, match=r"data.donor_key='individual' is not an obs column. Available columns"):
        prepare(prepare_config(tmp_path, "data.donor_key=individual"))
    assert not (tmp_path / "shards").exists() or not any((tmp_path / "shards").iterdir())


def test_manifest_missing_key_and_hand_edits(synthetic_shards, tmp_path):
    d = _copy(synthetic_shards, tmp_path)
    m = json.loads((d / "manifest.json").read_text())
    (d / "manifest.json").write_text(json.dumps({k: v for k, v in m.items() if k != "files"}))
    with pytest.raises(C2SInputError, match="lacks files.*Delete .* and re-run the prepare step"):
        ShardSet(d, verify=False)
    edited = json.loads(json.dumps(m))
    train_file = next(n for n, f in edited["files"].items() if f["split"] == "train")
    edited["files"][train_file]["split"] = "val"  # a train file relabelled as val
    (d / "manifest.json").write_text(json.dumps(edited))
    with pytest.raises(C2SInputError, match="does not match its own checksum.*relabelled"):
        ShardSet(d, verify=False)


def test_orphan_temporaries_of_killed_runs_are_removed(tmp_path):
    """A prepare killed inside an atomic write leaves its temp dir; the next run removes it,
    but never a live process's."""
    import subprocess
    import sys

    root = tmp_path / "shards"
    root.mkdir()
    code = (
        "import os, sys; from c2s.atomic import atomic_dir\n"
        f"with atomic_dir({str(root / 'x-123')!r}) as tmp:\n"
        "    (tmp / 'part.parquet').write_text('half')\n    os._exit(9)"
    )
    subprocess.run([sys.executable, "-c", code], check=False, cwd=Path(__file__).resolve().parents[1])
    orphans = list(root.glob(".x-123.tmp@*"))
    assert len(orphans) == 1
    from c2s.atomic import atomic_dir

    with atomic_dir(root / "live") as live:  # this process is alive: its temporary stays
        prepare(prepare_config(tmp_path, "tasks.names=[cell_type_annotation]"))
        assert live.exists()
    assert not orphans[0].exists()
