"""A prepared shard directory: its manifest, checked on open, and its files. Written into a
temp directory that is renamed into place, so a shard directory is either complete or absent.
Per (split, task): a parquet file, its ``.tokens`` and its ``.lengths.npy``
(:mod:`c2s.data.shard_files` says what each holds).
"""

from __future__ import annotations

import json
from pathlib import Path

from c2s.data.checksums import manifest_checksum, read_digest_cache, sha256_file, state_key, write_digest_cache
from c2s.errors import C2SInputError

FORMAT_VERSION = 4  # 3: the manifest carries its own checksum; 4: ids only in .tokens
VERIFIED = ".verified.json"  # digests checked by ShardSet, keyed by file state: re-opening 3.2 GB
# of shards hashed them all again (3 s of every DataModule setup at 1M cells)
REQUIRED = ("format_version", "checksum", "tokenizer_id", "token_dtype", "counts", "files", "cells_per_split")


class ShardSet:
    """A checked shard directory. ``verify=True`` checks every file against the manifest's
    sha256, hashing only files not verified before in their current state (size, mtime, inode)."""

    def __init__(self, path: str | Path, verify: bool = True) -> None:
        self.path = Path(path)
        mpath = self.path / "manifest.json"
        if not mpath.is_file():
            raise C2SInputError(
                f"No manifest.json in {self.path}: not a prepared shard directory. Run the prepare step."
            )
        try:
            self.manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as exc:
            raise C2SInputError(f"{mpath} is corrupt ({exc}). Delete {self.path} and re-run the prepare step.") from exc
        redo = f"Delete {self.path} and re-run the prepare step."
        if not isinstance(self.manifest, dict):
            raise C2SInputError(f"{mpath} is not a JSON object. {redo}")
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise C2SInputError(
                f"{self.path} has shard format {self.manifest.get('format_version')}, expected {FORMAT_VERSION}. {redo}"
            )
        missing = [k for k in REQUIRED if k not in self.manifest]
        if missing:
            raise C2SInputError(f"{mpath} lacks {', '.join(missing)} (truncated or hand-edited). {redo}")
        if manifest_checksum(self.manifest) != self.manifest["checksum"]:
            raise C2SInputError(
                f"{mpath} does not match its own checksum: it was edited after prepare wrote it (for "
                f"example a file relabelled to another split), so its splits cannot be trusted. {redo}"
            )
        known = read_digest_cache(self.path / VERIFIED) if verify else {}
        seen = {}
        for name, info in self.manifest["files"].items():
            f = self.path / name
            if not f.is_file():
                raise C2SInputError(
                    f"Shard {f} listed in the manifest is missing. Delete {self.path} and re-run prepare."
                )
            if not verify:
                continue
            key = state_key(f, name)
            digest = known.get(key)
            if digest != info["sha256"]:  # not verified in this state before: hash it
                digest = sha256_file(f)
            if digest != info["sha256"]:
                raise C2SInputError(
                    f"Shard {f} does not match its manifest checksum (corrupt or modified). "
                    f"Delete {self.path} and re-run the prepare step."
                )
            seen[key] = digest
        if verify and seen != known:
            write_digest_cache(self.path / VERIFIED, seen)

    def files(self, split: str) -> list[Path]:
        """Parquet files of ``split``, in manifest order (sorted by name)."""
        return [
            self.path / n
            for n, info in sorted(self.manifest["files"].items())
            if info["split"] == split and n.endswith(".parquet")
        ]

    def task_of(self, file: Path) -> str:
        return self.manifest["files"][file.name]["task"]

    def read(self, file: Path, columns: list[str] | None = None):
        """Read one shard as a pyarrow Table (all or some columns, ``prompt_ids``/``target_ids``
        from its token file); a broken file raises naming it."""
        import pyarrow as pa  # here, not at the top: the training stream never reads parquet

        from c2s.data.shard_files import read_table

        try:
            return read_table(file, self.manifest["token_dtype"], columns)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise C2SInputError(
                f"Shard {file} could not be read ({exc}). Delete {self.path} and re-run prepare."
            ) from exc

    def rows(self, split: str, columns: list[str] | None = None, tasks=None) -> list[dict]:
        """Rows of ``split`` as dicts, in file order; only ``tasks`` (a collection) if given
        (a file holds one task, so whole files are skipped)."""
        return [
            r
            for f in self.files(split)
            if tasks is None or self.task_of(f) in tasks
            for r in self.read(f, columns).to_pylist()
        ]

    def tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.path / "tokenizer"))

    def counts(self, split: str) -> dict[str, int]:
        return self.manifest["counts"].get(split, {})
