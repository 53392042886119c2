"""Load a model to evaluate: an HF export dir or a Lightning checkpoint, checked against shards."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from c2s.errors import C2SInputError
from c2s.tokenizer import tokenizer_id


def to_device(model: torch.nn.Module, device: str) -> torch.nn.Module:
    """Move to ``device`` (``auto``: cuda when available, else cpu); bfloat16 weights on a GPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise C2SInputError(f"device={device} but torch sees no GPU here; use device=cpu (or auto).")
    try:
        torch.device(device)
    except RuntimeError as exc:
        raise C2SInputError(f"device={device!r} is not a torch device ({exc}); use auto, cpu, cuda or cuda:N.") from exc
    return model.to(device=device, dtype=torch.bfloat16 if device.startswith("cuda") else None)


def load_for_eval(ckpt: str | Path, shards: str | Path | None = None):
    """(model in eval mode, tokenizer, shards dir). ``shards`` defaults to the one the model was
    trained on (recorded in the export's c2s_meta.json or the checkpoint's hyper-parameters)."""
    ckpt = Path(ckpt)
    if not ckpt.exists():
        raise C2SInputError(f"Checkpoint {ckpt} does not exist. Give a Lightning .ckpt or an HF export dir "
                            "(e.g. outputs/runs/main/sft/hf).")
    if ckpt.is_dir() and (ckpt / "config.json").exists():
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(ckpt)
        tokenizer = AutoTokenizer.from_pretrained(ckpt)
        meta = ckpt / "c2s_meta.json"
        recorded = json.loads(meta.read_text())["shards"] if meta.exists() else None
    elif ckpt.is_file():
        from c2s.data.shards import ShardSet
        from c2s.models.lm_module import CausalLMModule

        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        hp = dict(state["hyper_parameters"])
        recorded = hp.pop("shards_dir", None)
        source = shards or recorded
        if source is None:
            raise C2SInputError(f"{ckpt} does not record its shards; pass shards=<dir>.")
        tokenizer = ShardSet(source, verify=False).tokenizer()
        module = CausalLMModule(tokenizer=tokenizer, **hp)
        module.configure_model()
        module.load_state_dict(state["state_dict"])
        model = module.model
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
    else:
        raise C2SInputError(f"{ckpt} is neither a Lightning checkpoint file nor an HF export dir (no config.json).")
    shards = shards or recorded
    if shards is None:
        raise C2SInputError(f"No shards recorded with {ckpt}; pass shards=<prepared shard dir>.")
    from c2s.data.shards import ShardSet

    manifest = ShardSet(shards, verify=False).manifest
    if manifest["tokenizer_id"] != tokenizer_id(tokenizer):
        raise C2SInputError(f"The tokenizer of {ckpt} ({tokenizer_id(tokenizer)}) does not match the one the shards in "
                            f"{shards} were tokenized with ({manifest['tokenizer_id']}). Evaluate on shards prepared "
                            "with this model's tokenizer (tokenizer=pretrained tokenizer.name_or_path=<export>).")
    model.config.use_cache = True
    return model.eval(), tokenizer, Path(shards)
