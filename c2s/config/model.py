"""Schemas of the decoder (configs/model/) and its LoRA adapters."""

from __future__ import annotations

from dataclasses import dataclass

from c2s.config.checks import one_of
from c2s.config.families import FAMILIES, Family, checkpoint_config, family


@dataclass
class ModelConfig:
    """configs/model/: a decoder built from config (scratch) or loaded (pretrained)."""

    name: str = "tiny"
    arch: str = "gpt_neox"  # a model_type of c2s.config.families.FAMILIES; pretrained: read from its config.json
    init: str = "scratch"  # scratch | pretrained
    name_or_path: str | None = None  # hub id or local dir (init=pretrained)
    # auto: flex_attention on CUDA (packed rows without a dense mask), else the family's first (sdpa; Gemma-2 eager)
    attn_implementation: str = "auto"  # auto | sdpa | eager | flex_attention
    dtype: str = "float32"  # float32 | bfloat16 | float16 (weights as loaded)
    gradient_checkpointing: bool = False
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int | None = None  # grouped-query attention (null: num_heads)
    head_dim: int | None = None  # null: hidden_size / num_heads
    intermediate_size: int = 512
    max_position_embeddings: int = 2048
    rotary_pct: float = 0.25  # gpt_neox
    sliding_window: int | None = None  # gemma2
    query_pre_attn_scalar: int | None = None  # gemma2 (an int in transformers)
    rope_theta: float | None = None  # llama, qwen2 (null: transformers' default)
    tie_embeddings: bool | None = None  # scratch: one matrix for input and output embeddings (null: the family's)
    vocab_size: int | None = None  # scratch: embedding rows (>= tokenizer size), e.g. a released model's 50304
    compile: bool = True  # packed training on CUDA: torch.compile each decoder block (+32% tokens/s); not CPU, not GRPO
    logits_chunk: int | None = None  # LM-head loss in chunks of at most this many logits (memory; recomputes the head)
    trust_remote_code: bool = False

    @property
    def kv_heads(self) -> int:
        return self.num_kv_heads or self.num_heads

    @property
    def resolved_head_dim(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    @property
    def resolved_sliding_window(self) -> int:
        return self.sliding_window or 4096

    @property
    def resolved_query_pre_attn_scalar(self) -> int:
        return self.query_pre_attn_scalar or self.resolved_head_dim

    def family(self, source: str | None = None) -> Family:
        """The family of the model that will be built: a checkpoint's own (``source``, else ``name_or_path`` when
        pretrained; its config.json ``model_type``) when it can be read here, else ``arch``."""
        source = source or (self.name_or_path if self.init == "pretrained" else None)
        found = checkpoint_config(source)
        return family(str(found.get("model_type"))) if found else family(self.arch)

    def __post_init__(self) -> None:
        one_of(self.init, ("scratch", "pretrained"), "model.init")
        if self.init == "scratch":
            one_of(self.arch, tuple(FAMILIES), "model.arch")
        one_of(self.attn_implementation, ("auto", "sdpa", "eager", "flex_attention"), "model.attn_implementation")
        one_of(self.dtype, ("float32", "bfloat16", "float16"), "model.dtype")
        if self.init == "scratch" or checkpoint_config(self.name_or_path):
            fam = self.family()
            if self.attn_implementation not in ("auto", *fam.attention):
                why = " (sdpa has no logit soft-capping)" if fam.soft_capping else ""
                raise ValueError(
                    f"model.attn_implementation={self.attn_implementation!r} is not supported by {fam.model_type}"
                    f"{why}: use one of {('auto', *fam.attention)}."
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
