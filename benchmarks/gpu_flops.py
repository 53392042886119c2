"""FLOP counting and device timing for the GPU benchmarks (gpu_train.py): MFU's numerator and clock helpers."""

from __future__ import annotations

import numpy as np
import torch

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # cpu: only to check a script before a GPU run
PEAK = 989e12  # H100 SXM dense bf16 FLOP/s


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def reset_peak() -> None:
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()


def flops_per_token(model: torch.nn.Module) -> int:
    """6 × parameters used in matmuls (an untied input embedding is a lookup)."""
    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    n = sum(p.numel() for p in model.parameters()) - (emb.numel() if emb is not head else 0)
    return 6 * n


def attention_flops(cfg, lengths: np.ndarray) -> float:
    """Forward + backward attention matmul FLOPs of examples of ``lengths`` tokens (causal)."""
    heads, head_dim = (
        cfg.num_attention_heads,
        getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads,
    )
    s = np.asarray(lengths, dtype=np.float64)
    full = s * (s + 1) / 2
    layers = cfg.num_hidden_layers
    window = getattr(cfg, "sliding_window", None)
    if window and getattr(cfg, "layer_types", None):
        w = float(window)
        capped = np.where(s <= w, full, w * (w + 1) / 2 + (s - w) * w)
        n_slide = sum(t == "sliding_attention" for t in cfg.layer_types)
        pairs = (layers - n_slide) * full.sum() + n_slide * capped.sum()
    else:
        pairs = layers * full.sum()
    return 12.0 * heads * head_dim * pairs


def segment_lengths(seg: np.ndarray) -> np.ndarray:
    """Lengths of the examples in (B, L) segment ids (0 = padding)."""
    out = [np.bincount(row[row > 0]) for row in seg]
    return np.concatenate([c[c > 0] for c in out]) if out else np.zeros(0, np.int64)
