"""Sampling G completions per prompt, and the per-token log-probs of those completions.

Layout of a rollout: ``ids`` (N, P + T) = left-padded ``<s> prompt`` (width P) then the
completion (T tokens, padded after EOS); N = prompts × G, each prompt's G completions
consecutive. ``completion_mask`` (N, T) marks completion tokens up to and including EOS.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import LogitsProcessorList

from c2s.models.forward import left_pad, logit_cap, soft_cap
from c2s.models.no_repeat import NoRepeatInCompletion


@dataclass
class Rollout:
    ids: torch.Tensor  # (N, P+T) token ids
    attention_mask: torch.Tensor  # (N, P+T) 1 on real tokens
    prompt_width: int  # P
    completion_mask: torch.Tensor  # (N, T) bool, tokens up to and including EOS
    finished: torch.Tensor  # (N,) bool, completion ended with EOS
    texts: list[str]  # decoded completions (special tokens dropped)

    @property
    def lengths(self) -> torch.Tensor:
        return self.completion_mask.sum(1)


@torch.no_grad()
def sample(
    model,
    tokenizer,
    prompts: list[list[int]],
    group_size: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    no_repeat_tokens: bool = False,
    do_sample: bool = True,
    device=None,
    cache: str = "dynamic",
) -> Rollout:
    """``group_size`` completions for each token-id prompt (without <s>); model in eval mode while
    sampling (no dropout), restored after."""
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    ids, mask = left_pad(prompts, pad, tokenizer.bos_token_id)
    ids, mask = ids.repeat_interleave(group_size, 0), mask.repeat_interleave(group_size, 0)
    if device is not None:
        ids, mask = ids.to(device), mask.to(device)
    kwargs = dict(
        max_new_tokens=max_new_tokens, pad_token_id=pad, eos_token_id=eos, use_cache=True, do_sample=do_sample
    )
    if do_sample:
        kwargs.update(temperature=temperature, top_p=top_p, top_k=0)
    if no_repeat_tokens:
        kwargs["logits_processor"] = LogitsProcessorList([NoRepeatInCompletion(ids.shape[1])])
    if cache == "static":
        kwargs["cache_implementation"] = "static"
    was_training = model.training
    model.eval()
    try:
        out = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
    finally:
        model.train(was_training)
    width = ids.shape[1]
    completion = out[:, width:]
    is_eos = completion == eos
    before_eos = torch.cumsum(is_eos.int(), 1) - is_eos.int() == 0  # up to and including the first EOS
    finished = is_eos.any(1)
    texts = tokenizer.batch_decode(completion.masked_fill(~before_eos, pad), skip_special_tokens=True)
    full_mask = torch.cat([mask, before_eos.to(mask.dtype)], 1)
    return Rollout(out, full_mask, width, before_eos, finished, texts)


def completion_logprobs(
    model, rollout: Rollout, with_entropy: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs (N, T) of the completion tokens under ``model`` (float32), and optionally the
    entropy (N, T) of its next-token distribution there. Position ids count real tokens, so a
    left-padded row computes what the unpadded one would."""
    mask = rollout.attention_mask
    position_ids = (mask.cumsum(1) - 1).clamp(min=0)
    hidden = model.get_decoder()(
        input_ids=rollout.ids, attention_mask=mask, position_ids=position_ids, use_cache=False
    ).last_hidden_state
    p = rollout.prompt_width
    logits = soft_cap(model.get_output_embeddings()(hidden[:, p - 1 : -1]).float(), logit_cap(model))  # t predicts t+1
    logp_all = F.log_softmax(logits, -1)
    logp = logp_all.gather(-1, rollout.ids[:, p:, None]).squeeze(-1)
    entropy = None
    if with_entropy:
        with torch.no_grad():
            entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy
