"""Schemas of the decoder (configs/model/) and its LoRA adapters."""

from __future__ import annotations

from dataclasses import dataclass

from c2s.config.checks import one_of


@dataclass
class ModelConfig:
    """configs/model/: a decoder built from config (scratch) or loaded (pretrained)."""

    name: str = "tiny"
    arch: str = "gpt_neox"  # gpt_neox | gemma2
    init: str = "scratch"  # scratch | pretrained
    name_or_path: str | None = None  # hub id or local dir (init=pretrained)
    # auto: flex_attention on CUDA (packed rows without a dense mask), else sdpa (eager for Gemma-2)
    attn_implementation: str = "auto"  # auto | sdpa | eager | flex_attention
    dtype: str = "float32"  # float32 | bfloat16 | float16 (weights as loaded)
    gradient_checkpointing: bool = False
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int | None = None  # gemma2 (grouped-query attention)
    head_dim: int | None = None  # gemma2
    intermediate_size: int = 512
    max_position_embeddings: int = 2048
    rotary_pct: float = 0.25  # gpt_neox
    sliding_window: int | None = None  # gemma2
    query_pre_attn_scalar: int | None = None  # gemma2 (an int in transformers)
    vocab_size: int | None = None  # scratch: embedding rows (>= tokenizer size), e.g. a released model's 50304
    compile: bool = True  # packed training on CUDA: torch.compile each decoder block (+32% tokens/s); not CPU, not GRPO
    logits_chunk: int | None = None  # LM-head loss in chunks of at most this many logits (memory; recomputes the head)
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        one_of(self.arch, ("gpt_neox", "gemma2"), "model.arch")
        one_of(self.init, ("scratch", "pretrained"), "model.init")
        one_of(self.attn_implementation, ("auto", "sdpa", "eager", "flex_attention"), "model.attn_implementation")
        one_of(self.dtype, ("float32", "bfloat16", "float16"), "model.dtype")
        if self.arch == "gemma2" and self.attn_implementation == "sdpa":
            raise ValueError(
                "model.attn_implementation must be 'eager', 'flex_attention' or 'auto' for Gemma-2 "
                "(sdpa has no logit soft-capping)."
            )
        if self.logits_chunk is not None and self.logits_chunk < 1:
            raise ValueError(f"model.logits_chunk={self.logits_chunk} must be positive (or null: no chunking).")
        if self.vocab_size is not None and self.vocab_size < 1:
            raise ValueError(f"model.vocab_size={self.vocab_size} must be positive (or null: the tokenizer's size).")
        if self.init == "pretrained" and not self.name_or_path:
            raise ValueError("model.init=pretrained needs model.name_or_path (a hub id or a local directory).")


@dataclass
class LoraConfig:
    enabled: bool = False
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | None = None  # null: per-architecture default; [all-linear] also works
