"""Token-level cross-entropy of a causal LM, with LM-head logits only where labels are.

Under FSDP2 the decoder and the LM head are called here, not through the model's ``forward``; so
``shard_model`` registers ``token_losses`` as one more forward method of the root (``FSDP_METHOD``),
and its all-gather and reduce-scatter hooks wrap this whole computation. That keeps a tied
embedding matrix one parameter in one group.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from c2s.models.forward import logit_cap, soft_cap

FSDP_METHOD = "c2scompute_token_losses"  # the attribute shard_model sets on a sharded root


def _head_ce(head: torch.nn.Module, hidden: torch.Tensor, labels: torch.Tensor, cap: float | None) -> torch.Tensor:
    return F.cross_entropy(soft_cap(head(hidden), cap).float(), labels, reduction="none")


def head_losses(
    head: torch.nn.Module,
    hidden: torch.Tensor,
    labels: torch.Tensor,
    cap: float | None = None,
    chunk: int | None = None,
) -> torch.Tensor:
    """Cross-entropy (N,) of hidden states (N, d) against labels (N,) through the LM head, soft-capped
    at ``cap`` (Gemma-2).

    When N × vocabulary exceeds ``chunk`` elements, tokens go through in chunks, each under
    activation checkpointing: only one chunk's logits exist at a time, and the backward pass
    recomputes them (one more head matmul per token: −10% tokens/s on Pythia-410m, so only
    Gemma-2's 256k vocabulary sets ``model.logits_chunk``). ``None``: one piece."""
    step = max(1, chunk // head.weight.shape[0]) if chunk else hidden.shape[0]
    if hidden.shape[0] <= step:
        return _head_ce(head, hidden, labels, cap)
    from torch.utils.checkpoint import checkpoint

    parts = []
    for i in range(0, hidden.shape[0], step):
        h, y = hidden[i : i + step], labels[i : i + step]
        parts.append(
            checkpoint(_head_ce, head, h, y, cap, use_reentrant=False)
            if torch.is_grad_enabled()
            else _head_ce(head, h, y, cap)
        )
    return torch.cat(parts)


def token_losses(
    model: torch.nn.Module, batch: Mapping[str, Any], chunk: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Losses of the supervised tokens, through FSDP's forward hooks when the model is sharded (see
    ``compute_token_losses``, the computation)."""
    method = getattr(model, FSDP_METHOD, None)
    return method(batch, chunk) if method is not None else compute_token_losses(model, batch, chunk)


def compute_token_losses(
    model: torch.nn.Module, batch: Mapping[str, Any], chunk: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Losses of the supervised tokens: (ce (N,), mask (B, L-1)), N = mask.sum().

    Position t predicts token t+1. Logits are computed only where a label exists (after the
    decoder, the LM head runs on those hidden states only): under SFT that is a few target
    tokens per example instead of the whole vocabulary at every position. Gemma-2's final
    logit soft-capping is applied as its own forward does; see ``head_losses`` for chunking.
    """
    hidden = model.get_decoder()(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
    ).last_hidden_state
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    return head_losses(model.get_output_embeddings(), hidden[:, :-1][mask], labels[mask], logit_cap(model), chunk), mask
