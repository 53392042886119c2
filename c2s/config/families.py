"""Model families as data: what each decoder family can do, keyed by its Hugging Face ``model_type``.

Every check and every choice asks a family's capabilities (``ties_embeddings``, ``attention``,
``soft_capping``, ``lora_targets``), never its name, so a new family is one ``Family`` here plus
a YAML in configs/model/. ``hf_fields`` maps the HF config's keyword arguments to the
``ModelConfig`` attributes (or properties) that fill them when a model is built from scratch.

A pretrained model names its own family (``model_type`` in its config.json). A family that is not
listed here still loads; it gets ``GENERIC`` capabilities (LoRA on all linear layers, sdpa) and its
tie from its own config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

# HF kwarg -> ModelConfig attribute, shared by the decoders with grouped-query attention
_GQA = {
    "hidden_size": "hidden_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "num_key_value_heads": "kv_heads",
    "head_dim": "resolved_head_dim",
    "intermediate_size": "intermediate_size",
}


@dataclass(frozen=True)
class Family:
    """One decoder family. ``attention``: implementations it supports, the first being the default off-GPU
    (flex_attention is used for packed rows on CUDA where listed); ``ties_embeddings``: its default when
    built from scratch (``model.tie_embeddings`` overrides; a loaded model says itself); ``soft_capping``:
    its forward soft-caps the final logits (``final_logit_softcapping``), which the loss must repeat."""

    model_type: str  # transformers' config.model_type
    config_class: str  # a transformers class name, e.g. "LlamaConfig"
    lora_targets: tuple[str, ...]
    ties_embeddings: bool = False
    attention: tuple[str, ...] = ("sdpa", "eager", "flex_attention")
    soft_capping: bool = False
    hf_fields: dict[str, str] = field(default_factory=lambda: dict(_GQA))  # a None value is left to transformers


_ATTN_MLP = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

FAMILIES: dict[str, Family] = {
    f.model_type: f
    for f in (
        Family(
            "gpt_neox",
            "GPTNeoXConfig",
            ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
            hf_fields={
                "hidden_size": "hidden_size",
                "num_hidden_layers": "num_layers",
                "num_attention_heads": "num_heads",
                "intermediate_size": "intermediate_size",
                "rotary_pct": "rotary_pct",
            },
        ),
        Family(
            "gemma2",
            "Gemma2Config",
            _ATTN_MLP,
            ties_embeddings=True,
            attention=("eager", "flex_attention"),  # sdpa has no logit soft-capping
            soft_capping=True,
            hf_fields={
                **_GQA,
                "sliding_window": "resolved_sliding_window",
                "query_pre_attn_scalar": "resolved_query_pre_attn_scalar",
            },
        ),
        Family("llama", "LlamaConfig", _ATTN_MLP, ties_embeddings=True, hf_fields={**_GQA, "rope_theta": "rope_theta"}),
        Family(  # head_dim is hidden_size / heads in Qwen2
            "qwen2",
            "Qwen2Config",
            _ATTN_MLP,
            ties_embeddings=True,
            hf_fields={**{k: v for k, v in _GQA.items() if k != "head_dim"}, "rope_theta": "rope_theta"},
        ),
    )
}
GENERIC = Family("generic", "", ("all-linear",), attention=("sdpa", "eager", "flex_attention"))


def family(model_type: str) -> Family:
    """The family of ``model_type``; ``GENERIC`` capabilities for one not listed."""
    return FAMILIES.get(model_type, GENERIC)


def checkpoint_config(path: str | None) -> dict | None:
    """A local checkpoint's config.json as a dict (None for a hub id or a directory without one): read as
    JSON only, so nothing in it can name code to run."""
    if not path:
        return None
    p = Path(path).expanduser() / "config.json"
    try:
        return json.loads(p.read_text()) if p.is_file() else None
    except (OSError, ValueError):
        return None
