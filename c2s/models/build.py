"""Build a Hugging Face decoder from a model config, check it against the tokenizer, add LoRA."""

from __future__ import annotations

import logging

import torch

from c2s.config.families import FAMILIES, Family, family
from c2s.config.model import LoraConfig, ModelConfig
from c2s.errors import C2SInputError

log = logging.getLogger(__name__)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def family_of(model: torch.nn.Module) -> Family:
    """The family of a built or loaded model (peft-wrapped or not), from its config's ``model_type``."""
    base = getattr(model, "get_base_model", lambda: model)()
    return family(base.config.model_type)


def attention_for(m: ModelConfig, device_type: str, packed: bool = True, source: str | None = None) -> str:
    """The attention implementation to use. ``auto``: for packed training on CUDA, flex_attention where the
    family supports it (transformers turns the rows' position_ids into a block-sparse BlockMask, no (L, L)
    mask; Gemma-2's soft-capping is a score_mod); otherwise the family's default (sdpa; eager for Gemma-2),
    which needs no compiler and suits KV-cache generation from left-padded rows. ``source``: the checkpoint
    the model comes from, whose own family counts."""
    impl = m.attn_implementation
    if impl != "auto":
        return impl
    fam = m.family(source)
    if device_type == "cuda" and packed and "flex_attention" in fam.attention:
        return "flex_attention"
    return fam.attention[0]


def _scratch_config(m: ModelConfig, tokenizer, attn: str):
    """The HF config of a scratch model: the family's ``hf_fields`` filled from ``m`` (None left to transformers)."""
    import transformers

    fam = FAMILIES[m.arch]
    kwargs = {hf: getattr(m, ours) for hf, ours in fam.hf_fields.items() if getattr(m, ours) is not None}
    return getattr(transformers, fam.config_class)(
        vocab_size=max(len(tokenizer), m.vocab_size or 0),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_position_embeddings=m.max_position_embeddings,
        attn_implementation=attn,
        use_cache=False,
        tie_word_embeddings=fam.ties_embeddings if m.tie_embeddings is None else m.tie_embeddings,
        **kwargs,
    )


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
    attn = attention_for(m, device_type, packed, source)
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


def add_lora(model: torch.nn.Module, lora: LoraConfig) -> torch.nn.Module:
    """Wrap with peft LoRA (targets: ``lora.target_modules``, else the model family's); only adapter weights
    stay trainable."""
    import peft

    targets = list(lora.target_modules or family_of(model).lora_targets)
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
