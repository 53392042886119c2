"""Export a trained module as a Hugging Face directory (weights + tokenizer), atomically.

LoRA adapters are merged into the base weights (under FSDP, after the shards are gathered to
rank 0 and loaded into a CPU copy with the same adapters); FSDP shards are gathered to rank 0. The
result loads with plain ``transformers.AutoModelForCausalLM.from_pretrained(dir)``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from c2s.atomic import atomic_dir


def export_hf(model: torch.nn.Module, tokenizer, out_dir: str | Path, *, sharded: bool, is_global_zero: bool) -> Path:
    """Write ``out_dir`` (config.json, model.safetensors, tokenizer files). Collective under FSDP."""
    out_dir = Path(out_dir)
    state = None
    if sharded:  # every rank takes part in the gather
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if not is_global_zero:
        return out_dir
    if sharded:  # rebuild on CPU from the gathered weights (LoRA: the same adapters, then merged)
        from transformers import AutoModelForCausalLM

        plain = AutoModelForCausalLM.from_config(model.config)
        if hasattr(model, "peft_config"):
            from peft import get_peft_model

            plain = get_peft_model(plain, model.peft_config["default"])
        plain.load_state_dict(state)
        model = plain
    if hasattr(model, "merge_and_unload"):  # peft: fold the adapters in
        model = model.merge_and_unload()
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return out_dir
