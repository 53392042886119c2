"""Batched generation with the KV cache: left-padded ``<s> prompt`` -> decoded completion."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessorList

from c2s.models.forward import left_pad
from c2s.models.no_repeat import NoRepeatInCompletion


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: list[list[int]],
    max_new_tokens: int,
    batch_size: int = 16,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    desc: str = "generate",
    no_repeat_tokens: bool = False,
    cache: str = "dynamic",
) -> list[str]:
    """Completions (decoded, special tokens dropped) for token-id prompts (without <s>), on the
    model's device. ``cache``: ``dynamic`` or ``static`` (HF cache_implementation; see
    benchmarks/README.md for which is faster where).

    ``no_repeat_tokens`` forbids any token twice in a completion (c2s.models.no_repeat; the prompt's
    tokens stay allowed): right for a single cell sentence, where a gene is one token and never repeats.
    """
    if cache not in ("dynamic", "static"):
        from c2s.errors import C2SInputError

        raise C2SInputError(f"generation.cache={cache!r} is not one of: dynamic, static.")
    torch.manual_seed(seed)
    out: list[str] = []
    pad, bos = tokenizer.pad_token_id, tokenizer.bos_token_id
    for s in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch", leave=False):
        ids, mask = (t.to(model.device) for t in left_pad(prompts[s : s + batch_size], pad, bos))
        kwargs = dict(
            do_sample=do_sample,
            max_new_tokens=max_new_tokens,
            pad_token_id=pad,
            eos_token_id=tokenizer.eos_token_id,
            use_cache=True,
        )
        if cache == "static":
            kwargs["cache_implementation"] = "static"
        if no_repeat_tokens:
            kwargs["logits_processor"] = LogitsProcessorList([NoRepeatInCompletion(ids.shape[1])])
        if do_sample:
            kwargs.update(temperature=temperature, top_p=top_p)
        gen = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        out += tokenizer.batch_decode(gen[:, ids.shape[1] :], skip_special_tokens=True)
    return out
