"""Build a Hugging Face decoder from a model config, check it against the tokenizer, add LoRA."""

from __future__ import annotations

import logging
from typing import Any, Callable

import torch

from c2s.config.model import LoraConfig, ModelConfig
from c2s.errors import C2SInputError

log = logging.getLogger(__name__)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
LORA_TARGETS = {  # per architecture; "all-linear" also works for both
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "gemma2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


def attention_for(m: ModelConfig, device_type: str, packed: bool = True) -> str:
    """The attention implementation to use. ``auto``: for packed training on CUDA, flex_attention,
    where transformers turns the rows' position_ids into a block-sparse BlockMask (no (L, L) mask;
    Gemma-2's soft-capping is a score_mod); otherwise sdpa (eager for Gemma-2), which needs no
    compiler and suits KV-cache generation from left-padded rows."""
    impl = m.attn_implementation
    if impl != "auto":
        return impl
    if device_type == "cuda" and packed:
        return "flex_attention"
    return "eager" if m.arch == "gemma2" else "sdpa"


def _scratch_config(m: ModelConfig, tokenizer, attn: str):
    vocab = max(len(tokenizer), m.vocab_size or 0)
    ids = dict(
        vocab_size=vocab,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_position_embeddings=m.max_position_embeddings,
        attn_implementation=attn,
        use_cache=False,
    )
    return ARCHS[m.arch](m, ids)


def _gpt_neox(m: ModelConfig, ids: dict[str, Any]):
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        hidden_size=m.hidden_size,
        num_hidden_layers=m.num_layers,
        num_attention_heads=m.num_heads,
        intermediate_size=m.intermediate_size,
        rotary_pct=m.rotary_pct,
        tie_word_embeddings=False,
        **ids,
    )


def _gemma2(m: ModelConfig, ids: dict[str, Any]):
    from transformers import Gemma2Config

    head_dim = m.head_dim or m.hidden_size // m.num_heads
    return Gemma2Config(
        hidden_size=m.hidden_size,
        num_hidden_layers=m.num_layers,
        num_attention_heads=m.num_heads,
        num_key_value_heads=m.num_kv_heads or m.num_heads,
        head_dim=head_dim,
        intermediate_size=m.intermediate_size,
        sliding_window=m.sliding_window or 4096,
        query_pre_attn_scalar=m.query_pre_attn_scalar or head_dim,
        **ids,
    )


# model.arch -> HF config builder(ModelConfig, token ids and shared settings)
ARCHS: dict[str, Callable[[ModelConfig, dict[str, Any]], Any]] = {"gpt_neox": _gpt_neox, "gemma2": _gemma2}


def build_model(
    m: ModelConfig, tokenizer, init_from: str | None = None, device_type: str = "cpu", packed: bool = True
) -> torch.nn.Module:
    """A causal LM: from ``init_from`` (an HF dir) if given, else scratch or pretrained per ``m``;
    ``device_type`` (where it will run) and ``packed`` pick the attention for ``attn_implementation=auto``.

    The tokenizer must fit the model: a loaded model with a smaller vocabulary than the
    tokenizer gets its embeddings resized (new rows are trained); token ids for bos/eos/pad
    are checked.
    """
    from transformers import AutoModelForCausalLM

    source = init_from or (m.name_or_path if m.init == "pretrained" else None)
    attn = attention_for(m, device_type, packed)
    if source is None:
        model = AutoModelForCausalLM.from_config(_scratch_config(m, tokenizer, attn), dtype=DTYPES[m.dtype])
    else:
        try:
            model = AutoModelForCausalLM.from_pretrained(
                source,
                dtype=DTYPES[m.dtype],
                attn_implementation=attn,
                trust_remote_code=m.trust_remote_code,
                use_safetensors=True,
            )
        except (OSError, ValueError) as exc:
            if "trust_remote_code" in str(exc):
                raise C2SInputError(
                    f"The model in {source!r} asks to run its own code (auto_map). c2s runs it only "
                    "if you set model.trust_remote_code=true yourself, after reading that code."
                ) from None
            raise C2SInputError(
                f"Could not load a model from {source!r} ({exc}). Offline, give a local directory "
                "with config.json and model.safetensors (an HF export)."
            ) from exc
        vocab = model.get_input_embeddings().num_embeddings
        if vocab < len(tokenizer):
            if init_from:
                raise C2SInputError(
                    f"The tokenizer has {len(tokenizer)} tokens but the model in {source} has "
                    f"{vocab}: they do not belong together. Use the tokenizer saved with that model."
                )
            log.warning(
                "Resizing embeddings %d -> %d for the added gene tokens (tokenizer.add_genes=true): the new rows "
                "start untrained.",
                vocab,
                len(tokenizer),
            )
            model.resize_token_embeddings(len(tokenizer))
    model.config.use_cache = False
    if m.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if m.compile and device_type == "cuda" and packed:
        from c2s.models.fsdp import decoder_blocks

        # packed rows have one fixed shape, so one graph serves every block and step; generation
        # (GRPO, evaluation) changes shape every token and stays eager
        for block in decoder_blocks(model):
            block.compile()
    return model


def check_tokenizer(model: torch.nn.Module, tokenizer) -> None:
    """Raise if the tokenizer cannot drive the model (vocabulary too big, no EOS)."""
    vocab = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > vocab:
        raise C2SInputError(
            f"Tokenizer of {len(tokenizer)} tokens does not match the model's {vocab} embeddings. "
            "Use the tokenizer saved with the checkpoint / shards it was trained on."
        )
    if tokenizer.eos_token_id is None:
        raise C2SInputError("The tokenizer has no EOS token, so generation cannot stop; use one that has.")


def add_lora(model: torch.nn.Module, arch: str, lora: LoraConfig) -> torch.nn.Module:
    """Wrap with peft LoRA; only adapter weights stay trainable."""
    import peft

    targets = lora.target_modules or LORA_TARGETS[arch]
    if list(targets) == ["all-linear"]:
        targets = "all-linear"
    cfg = peft.LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return peft.get_peft_model(model, cfg)


def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    """total, trainable, and non_embedding (total minus input and untied output embeddings):
    scaling laws use the last."""
    emb = {
        id(m.weight): m.weight.numel()
        for m in (model.get_input_embeddings(), model.get_output_embeddings())
        if m is not None
    }
    total = sum(p.numel() for p in model.parameters())
    return {
        "total": total,
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "non_embedding": total - sum(emb.values()),
    }
