"""Prompt shards: parquet files per split plus manifest.json, written into a temp directory
that is renamed into place, so a shard directory is either complete or absent.

Columns: task, split, prompt, target, cell_ids (list<str>), meta (JSON str),
prompt_ids / target_ids (list<int32>), n_tokens (int32: bos + prompt + target + eos).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from c2s.atomic import write_json_atomic
from c2s.errors import C2SInputError
from c2s.tasks.render import Example

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
SCHEMA = pa.schema([
    ("task", pa.string()), ("split", pa.string()), ("prompt", pa.string()), ("target", pa.string()),
    ("cell_ids", pa.list_(pa.string())), ("meta", pa.string()),
    ("prompt_ids", pa.list_(pa.int32())), ("target_ids", pa.list_(pa.int32())), ("n_tokens", pa.int32()),
])


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _table(examples: Sequence[Example], tokenizer) -> pa.Table:
    enc_p = tokenizer([e.prompt for e in examples], add_special_tokens=False)["input_ids"]
    enc_t = tokenizer([e.target for e in examples], add_special_tokens=False)["input_ids"]
    return pa.table({
        "task": [e.task for e in examples], "split": [e.split for e in examples],
        "prompt": [e.prompt for e in examples], "target": [e.target for e in examples],
        "cell_ids": [e.cell_ids for e in examples], "meta": [json.dumps(e.meta, sort_keys=True) for e in examples],
        "prompt_ids": enc_p, "target_ids": enc_t, "n_tokens": [2 + len(p) + len(t) for p, t in zip(enc_p, enc_t)],
    }, schema=SCHEMA)


def write_shard_dir(
    out_dir: str | Path, examples: dict[str, list[Example]], tokenizer, rows_per_shard: int, manifest: dict[str, Any],
    extra_files: dict[str, Any] | None = None,
) -> Path:
    """Write ``{split}-{i:05d}.parquet`` shards, the tokenizer and manifest.json atomically.

    ``examples`` maps split -> examples (already shuffled). ``extra_files`` maps a file name to
    a JSON-serialisable object written beside the shards (e.g. the inverse fit).
    """
    out_dir = Path(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir(parents=True)
    try:
        files, counts = {}, {}
        for split, exs in examples.items():
            counts[split] = dict(sorted(Counter(e.task for e in exs).items()))
            for i, start in enumerate(range(0, len(exs), rows_per_shard)):
                name = f"{split}-{i:05d}.parquet"
                table = _table(exs[start : start + rows_per_shard], tokenizer)
                pq.write_table(table, tmp / name)
                files[name] = {"split": split, "rows": table.num_rows, "sha256": sha256(tmp / name),
                               "tokens": int(pa.compute.sum(table["n_tokens"]).as_py())}
        tokenizer.save_pretrained(str(tmp / "tokenizer"))
        for name, obj in (extra_files or {}).items():
            (tmp / name).write_text(json.dumps(obj, indent=2, sort_keys=True))
        manifest = dict(manifest, format_version=FORMAT_VERSION, counts=counts, files=files)
        write_json_atomic(tmp / "manifest.json", manifest)
        if out_dir.exists():  # another process finished the same config first: keep theirs
            log.info("%s appeared meanwhile; keeping it.", out_dir)
        else:
            os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out_dir


class ShardSet:
    """A checked shard directory. ``verify=True`` re-hashes every shard against the manifest."""

    def __init__(self, path: str | Path, verify: bool = True) -> None:
        self.path = Path(path)
        mpath = self.path / "manifest.json"
        if not mpath.is_file():
            raise C2SInputError(f"No manifest.json in {self.path}: not a prepared shard directory. Run the prepare step.")
        try:
            self.manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as exc:
            raise C2SInputError(f"{mpath} is corrupt ({exc}). Delete {self.path} and re-run the prepare step.") from exc
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise C2SInputError(f"{self.path} has shard format {self.manifest.get('format_version')}, expected "
                                f"{FORMAT_VERSION}. Delete it and re-run the prepare step.")
        for name, info in self.manifest["files"].items():
            f = self.path / name
            if not f.is_file():
                raise C2SInputError(f"Shard {f} listed in the manifest is missing. Delete {self.path} and re-run prepare.")
            if verify and sha256(f) != info["sha256"]:
                raise C2SInputError(f"Shard {f} does not match its manifest checksum (corrupt or modified). "
                                    f"Delete {self.path} and re-run the prepare step.")

    def files(self, split: str) -> list[Path]:
        return [self.path / n for n, info in sorted(self.manifest["files"].items()) if info["split"] == split]

    def read(self, file: Path, columns: list[str] | None = None) -> pa.Table:
        """Read one shard (all or some columns); a broken file raises naming it."""
        try:
            return pq.read_table(file, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise C2SInputError(f"Shard {file} could not be read ({exc}). Delete {self.path} and re-run prepare.") from exc

    def rows(self, split: str, columns: list[str] | None = None, tasks=None) -> list[dict]:
        """Rows of ``split`` as dicts, in file order; only ``tasks`` (a collection) if given."""
        return [r for f in self.files(split) for r in self.read(f, columns).to_pylist() if tasks is None or r["task"] in tasks]

    def tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.path / "tokenizer"))

    def counts(self, split: str) -> dict[str, int]:
        return self.manifest["counts"].get(split, {})
