"""The prepare step: AnnData -> corpus -> rendered tasks -> tokenizer -> prompt shards.

The output directory is ``<shards_root>/<data.name>-<config hash>``: the same config finds and
reuses its shards (after checking their checksums); any change writes a new directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import c2s
from c2s.data.corpus import build_corpus
from c2s.data.shards import FORMAT_VERSION, ShardSet, write_shard_dir
from c2s.data.splits import SPLITS
from c2s.errors import C2SInputError
from c2s.tasks import TaskOptions, build_tasks
from c2s.tasks.render import render_all
from c2s.tokenizer import load_tokenizer, tokenizer_id, train_gene_tokenizer

log = logging.getLogger(__name__)
HASHED = ("data", "extra_data", "tokenizer", "split", "tasks", "seed", "top_k", "rows_per_shard")


def config_hash(cfg: Mapping[str, Any]) -> str:
    """12 hex digits over the settings that change the shards (not where they are written)."""
    payload = {k: cfg.get(k) for k in HASHED if cfg.get(k) is not None} | {"format_version": FORMAT_VERSION}
    if not payload.get("extra_data"):
        payload.pop("extra_data", None)  # single-file configs keep their hash
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def shard_dir(cfg: Mapping[str, Any]) -> Path:
    return Path(cfg["shards_root"]) / f"{cfg['data']['name']}-{config_hash(cfg)}"


def _tokenizer(cfg: Mapping[str, Any], texts: list[str], genes: list[str]):
    t = cfg["tokenizer"]
    if t["kind"] == "gene":
        return train_gene_tokenizer(texts, genes, text_vocab_size=t["text_vocab_size"])
    if t["kind"] == "byte_bpe":  # the baseline: GPT-2-style byte-level BPE, same text budget
        from c2s.tokenizer import train_byte_bpe

        return train_byte_bpe(texts, vocab_size=t["text_vocab_size"] + 2 * len(genes))
    if t["kind"] == "pretrained":
        if not t.get("name_or_path"):
            raise C2SInputError("tokenizer.kind=pretrained needs tokenizer.name_or_path (a hub id or local dir).")
        return load_tokenizer(t["name_or_path"], add_genes=genes if t["add_genes"] else ())
    raise C2SInputError(f"tokenizer.kind={t['kind']!r} is not one of: gene, byte_bpe, pretrained.")


def prepare(cfg: Mapping[str, Any]) -> Path:
    """Write (or reuse) the shard directory for a plain-dict ``cfg`` (a resolved PrepareConfig)."""
    out = shard_dir(cfg)
    if (out / "manifest.json").exists():
        ShardSet(out)  # checksums verified; raises naming a corrupt file
        log.info("Reusing prepared shards in %s", out)
        return out
    split = cfg["split"]
    tasks = build_tasks(cfg["tasks"]["names"], TaskOptions(**cfg["tasks"]["options"]), cfg["tasks"]["match_keys"])
    corpora = [build_corpus(d, top_k=cfg["top_k"], seed=cfg["seed"], val_fraction=split["val_fraction"],
                            test_fraction=split["test_fraction"], split_by=split["split_by"], holdout=split["holdout"])
               for d in [cfg["data"], *(cfg.get("extra_data") or [])]]
    examples, skipped = [], {}
    for corpus in corpora:  # every file renders the same tasks; examples are mixed in the shards
        exs, skip = render_all(corpus, tasks, seed=cfg["seed"])
        examples += exs
        skipped.update({f"{corpus.name}/{t}": r for t, r in skip.items()} if len(corpora) > 1 else skip)
    corpus = corpora[0]
    if not examples:
        raise C2SInputError("No task could be rendered from this data; see the skipped reasons logged above.")
    by_split = {s: [e for e in examples if e.split == s] for s in SPLITS}
    rng = np.random.default_rng(cfg["seed"])
    by_split = {s: [exs[i] for i in rng.permutation(len(exs))] for s, exs in by_split.items()}  # mix tasks in shards
    train_text = [t for e in by_split["train"] for t in (e.prompt, e.target)]
    genes = list(dict.fromkeys(str(g) for c in corpora for g in c.sentences.gene_names))  # union, first-seen order
    tokenizer = _tokenizer(cfg, train_text, genes)
    manifest = {
        "c2s_version": c2s.__version__, "config_hash": config_hash(cfg), "config": dict(cfg),
        "seed": cfg["seed"], "tokenizer_id": tokenizer_id(tokenizer), "skipped_tasks": skipped,
        "n_cells": sum(len(c.sentences) for c in corpora),
        "n_empty_dropped": sum(c.sentences.n_empty_dropped for c in corpora),
        "cells_per_split": {s: int(sum((c.obs["split"] == s).sum() for c in corpora)) for s in SPLITS},
        "datasets": [c.name for c in corpora],
    }
    # the first file's fit serves reconstruction; every file's fit is kept for reference
    extra = {"inverse_fit.json": asdict(corpus.inverse_fit), "genes.json": genes,
             "inverse_fits.json": {c.name: asdict(c.inverse_fit) for c in corpora}}
    write_shard_dir(out, by_split, tokenizer, cfg["rows_per_shard"], manifest, extra)
    log.info("Wrote %d examples in %s (%s)", len(examples), out,
             ", ".join(f"{s}: {len(v)}" for s, v in by_split.items()))
    return out
