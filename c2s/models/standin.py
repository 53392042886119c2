"""A local stand-in for a released C2S-Scale checkpoint: a tiny Gemma-2 built from config and a
sub-word tokenizer trained here, saved as a plain HF directory.

Offline there is no hub, so tests and CPU runs cannot fetch ``vandijklab/C2S-Scale-Gemma-2-2B``.
The stand-in has what matters for the interop paths: the Gemma-2 architecture, a tokenizer with
no gene tokens (gene names are sub-words, as in Gemma's), and nothing but ``config.json``,
``model.safetensors`` and tokenizer files. Its weights are random: it knows no biology.

    python -m c2s.cli.standin OUT_DIR [H5AD CELL_TYPE_KEY]   (default: pbmc68k_reduced, bulk_labels)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from c2s.atomic import atomic_dir


def tiny_gemma2() -> dict[str, Any]:
    """configs/model/gemma2-tiny.yaml as a dict."""
    from omegaconf import OmegaConf

    from c2s.config.compose import CONFIG_DIR

    return OmegaConf.to_container(OmegaConf.load(Path(CONFIG_DIR) / "model" / "gemma2-tiny.yaml"))


def standin_texts(data: Mapping[str, Any], n_cells: int = 500, seed: int = 0) -> list[str]:
    """c2s_scale prompts and answers of up to ``n_cells`` cells of ``data`` (a DataConfig dict):
    the text the tokenizer learns its sub-words from."""
    from c2s.config.tasks import TaskOptionsConfig
    from c2s.corpus.build import build_corpus
    from c2s.tasks import build_tasks
    from c2s.tasks.render import render_all

    corpus = build_corpus(data, top_k=200, seed=seed, upper_case_genes=True, progress=False)
    tasks = build_tasks(
        ["cell_type_annotation", "conditional_cell_generation"],
        TaskOptionsConfig(genes_per_cell=200, prompt_format="c2s_scale"),
    )
    examples, _ = render_all(corpus, tasks, seed)
    return [t for e in examples[: 2 * n_cells] for t in (e.prompt, e.target)]


def make_standin(
    out_dir: str | Path, texts: list[str], vocab_size: int = 1000, seed: int = 0, model: Mapping[str, Any] | None = None
) -> Path:
    """Train a BPE tokenizer (``vocab_size`` merges + 256 byte tokens + 4 specials, no gene
    tokens) on ``texts``, build a Gemma-2 from ``model`` (default configs/model/gemma2-tiny) with seeded random
    weights, and save both into ``out_dir`` atomically. Returns ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM

    from c2s.config.model import ModelConfig
    from c2s.config.validate import from_dict
    from c2s.models.build import _scratch_config
    from c2s.tokenizer import train_gene_tokenizer

    tokenizer = train_gene_tokenizer(texts, genes=[], text_vocab_size=vocab_size)
    m = from_dict(ModelConfig, {**tiny_gemma2(), **(model or {})}, "model")
    torch.manual_seed(seed)
    net = AutoModelForCausalLM.from_config(_scratch_config(m, tokenizer, "eager"))
    net.config.use_cache = True
    with atomic_dir(Path(out_dir)) as tmp:
        net.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return Path(out_dir)
