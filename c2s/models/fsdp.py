"""FSDP2: ``fully_shard`` every decoder block, the decoder, the LM head, then the root
(used through Lightning's ModelParallelStrategy)."""

from __future__ import annotations

import torch


def decoder_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated blocks HF marks as unsplittable (GPTNeoXLayer, Gemma2DecoderLayer, …)."""
    base = getattr(model, "get_base_model", lambda: model)()
    names = set(getattr(base, "_no_split_modules", None) or [])
    blocks = [m for m in model.modules() if type(m).__name__ in names]
    if not blocks:
        raise ValueError(f"No decoder blocks ({sorted(names)}) found in {type(base).__name__} to shard.")
    return blocks


def shard_model(model: torch.nn.Module, mesh, bf16: bool = False, activation_checkpointing: bool = False) -> None:
    """Shard in place over ``mesh``; compute in bf16 (fp32 reductions) when ``bf16``."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    decoder, head = model.get_decoder(), model.get_output_embeddings()
    if head.weight is model.get_input_embeddings().weight and head.weight.requires_grad:
        from c2s.errors import C2SInputError

        # The decoder and the head are separate groups (below), which gives the tied matrix two
        # copies: frozen (LoRA) they stay equal; trained, they would drift apart.
        raise C2SInputError(
            "This model ties its input and output embeddings (Gemma-2), which strategy=fsdp cannot "
            "train in full yet: use LoRA (stages.<stage>.lora.enabled=true), or strategy=ddp."
        )
    if activation_checkpointing:
        model.gradient_checkpointing_enable()
    kwargs = {"mesh": mesh}
    if bf16:
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    for block in decoder_blocks(model):
        fully_shard(block, **kwargs)
    # The decoder (embeddings, final norm) and the LM head get their own groups: the training
    # step calls them separately (logits only where labels are), not through the root forward.
    fully_shard(decoder, **kwargs)
    fully_shard(head, **kwargs)
    fully_shard(model, **kwargs)
