"""Benchmark: tokens per gene / per cell of the gene-aware tokenizer vs a byte-level BPE of the
same vocabulary size, and packing efficiency, on scanpy's pbmc68k_reduced.

    .venv/bin/python benchmarks/tokens_and_packing.py

Both tokenizers are trained here on the same rendered prompts and targets (train split).
The last line is the ratio of tokens per cell (byte-level BPE / gene-aware) at K=100.
"""

from __future__ import annotations

import logging
import tempfile

import numpy as np
from omegaconf import OmegaConf

from c2s.config.compose import compose_config
from c2s.config.prepare import PrepareConfig
from c2s.config.validate import from_dict
from c2s.data.datamodule import C2SDataModule
from c2s.data.packing import pack, select_epoch
from c2s.data.prepare import prepare
from c2s.data.shards import ShardSet

logging.basicConfig(level=logging.WARNING)


def main() -> None:
    import sys

    smoke = ["tasks.names=[cell_lm,cell_type_annotation]"] if "--smoke" in sys.argv else []  # CI: the code paths
    with tempfile.TemporaryDirectory() as tmp:
        cfg = OmegaConf.to_container(compose_config("prepare", [f"shards_root={tmp}", *smoke]), resolve=True)
        shards = ShardSet(prepare(from_dict(PrepareConfig, cfg, "config")))
        tok = shards.tokenizer()
        rows = [r for f in shards.files("train") for r in shards.read(f, ["task", "prompt", "target"]).to_pylist()]
        texts = [t for r in rows for t in (r["prompt"], r["target"])]
        sentences = [r["target"] for r in rows if r["task"] == "cell_lm"]  # K=100 cell sentences

        from c2s.tokenizer import train_byte_bpe

        byte = train_byte_bpe(texts, vocab_size=len(tok))
        n_genes = sum(len(s.split()) for s in sentences)
        gene_tokens = sum(len(x) for x in tok(sentences, add_special_tokens=False)["input_ids"])
        byte_tokens = sum(len(x) for x in byte(sentences, add_special_tokens=False)["input_ids"])
        print(f"{len(sentences)} cell sentences (K=100), {n_genes} genes; both vocabularies {len(tok)} tokens")
        print(
            f"gene-aware tokenizer : {gene_tokens / n_genes:.3f} tokens/gene, "
            f"{gene_tokens / len(sentences):.1f} tokens/cell"
        )
        print(
            f"byte-level BPE       : {byte_tokens / n_genes:.3f} tokens/gene, "
            f"{byte_tokens / len(sentences):.1f} tokens/cell"
        )

        dm = C2SDataModule(shards_dir=str(shards.path))
        dm.setup()
        idx = dm.index("train")
        order = select_epoch(idx.task_ids, dm.task_weights(), 0, 0)
        lengths = np.minimum(idx.lengths, 1 << 30)
        print(f"train examples: {len(order)}, mean {lengths.mean():.0f} tokens, max {lengths.max()}")
        for max_len in (1024, 2048, 4096, 8192):
            packs = pack(order, lengths, max_len)
            used = np.minimum(lengths[order], max_len).sum()
            print(
                f"packing max_seq_len={max_len:5d}: {len(packs):4d} sequences, "
                f"{used / (len(packs) * max_len):.1%} non-pad tokens"
            )
        print(f"tokens per cell ratio (byte-level BPE / gene-aware): {byte_tokens / gene_tokens:.2f}x")


if __name__ == "__main__":
    main()
