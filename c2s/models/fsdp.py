"""FSDP2: ``fully_shard`` every decoder block, then the root (used through Lightning's ModelParallelStrategy).

The root's group holds the embeddings, the final norm and the LM head. A model that ties its input and
output embeddings keeps that matrix as one parameter there: counted once, updated once, exported as
one. The training step calls the decoder and the head itself (logits only where labels are), so that
computation is registered as a forward method of the root (``c2s.models.losses.FSDP_METHOD``) and
runs inside the root's all-gather and reduce-scatter.
"""

from __future__ import annotations

import functools

import torch

from c2s.models.losses import FSDP_METHOD, compute_token_losses


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
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard, register_fsdp_forward_method

    if activation_checkpointing:
        model.gradient_checkpointing_enable()
    kwargs = {"mesh": mesh}
    if bf16:
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    for block in decoder_blocks(model):
        fully_shard(block, **kwargs)
    fully_shard(model, **kwargs)
    setattr(model, FSDP_METHOD, functools.partial(compute_token_losses, model))
    register_fsdp_forward_method(model, FSDP_METHOD)
