"""Load a model to evaluate: an HF export dir or a Lightning checkpoint, checked against shards."""

from __future__ import annotations

import json
import pickle
import zipfile
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


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
CKPT_ARGS = ("model", "stage", "tasks", "total_steps", "init_from", "log_prefix", "shards_dir")


def _load_export(path: Path, trust_remote_code: bool):
    """(model, tokenizer) from an HF export dir; custom code runs only if the user asked for it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise C2SInputError(
            f"{path} has a model but no tokenizer files ({', '.join(TOKENIZER_FILES)}). Copy the "
            "tokenizer it was trained with into it (a prepared shard dir's tokenizer/ folder, or the "
            "stage's hf/ export), then evaluate again."
        )
    try:
        model = AutoModelForCausalLM.from_pretrained(path, trust_remote_code=trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        hint = (
            " It asks to run its own code (auto_map); c2s runs a model's code only when you pass "
            "trust_remote_code=true yourself, after reading that code."
            if "trust_remote_code" in str(exc)
            else ""
        )
        raise C2SInputError(f"Could not load the export in {path}: {str(exc).splitlines()[0]}{hint}") from None
    return model, tokenizer


def _read_lightning(path: Path, init_from: str | None, trust_remote_code: bool) -> tuple[dict, dict, str | None]:
    """(module arguments, state dict, recorded shards) of a Lightning .ckpt. Only tensors and plain
    values are read (weights_only=True), and nothing that runs code is taken from it:
    ``trust_remote_code`` comes from the caller, and the module is rebuilt from named arguments only."""
    if not zipfile.is_zipfile(path):
        raise C2SInputError(
            f"{path} is not a torch checkpoint (not a zip archive: truncated, or another kind of "
            "file). Give a Lightning .ckpt or an HF export dir (<run_dir>/<stage>/hf)."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        hp = {k: state["hyper_parameters"][k] for k in CKPT_ARGS if k in state["hyper_parameters"]}
        hp["model"] = dict(hp["model"], trust_remote_code=trust_remote_code)
    except pickle.UnpicklingError:
        raise C2SInputError(
            f"{path} holds objects other than tensors and plain values, so it is not loaded (that "
            "could run code). c2s checkpoints never do: evaluate the stage's HF export "
            "(<run_dir>/<stage>/hf), or give another checkpoint."
        ) from None
    except Exception as exc:  # truncated zip, not a torch file, missing keys: all "not a c2s checkpoint"
        raise C2SInputError(
            f"{path} is not a readable c2s Lightning checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}). Evaluate the stage's HF export "
            "(<run_dir>/<stage>/hf) instead, or give another checkpoint."
        ) from None
    recorded = hp.pop("shards_dir", None)
    if init_from:
        hp["init_from"] = init_from
    base = hp.get("init_from")
    if base and not Path(base).is_dir():
        raise C2SInputError(
            f"{path} was trained from init_from={base!r}, which no longer exists, and its weights "
            "are rebuilt on top of that model. Pass init_from=<where that export is now>, or evaluate "
            "this stage's HF export (<run_dir>/<stage>/hf), which needs nothing else."
        )
    return hp, state["state_dict"], recorded


def _build_lightning(hp: dict, weights: dict, tokenizer) -> torch.nn.Module:
    from c2s.models.lm_module import CausalLMModule

    module = CausalLMModule(tokenizer=tokenizer, **hp)
    module.configure_model()
    module.load_state_dict(weights)
    model = module.model
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def load_for_eval(
    ckpt: str | Path,
    shards: str | Path | None = None,
    init_from: str | None = None,
    trust_remote_code: bool = False,
    zero_shot: bool = False,
):
    """(model in eval mode, tokenizer, shards dir or None). ``shards`` defaults to the one the model was
    trained on (recorded in the export's c2s_meta.json or the checkpoint's hyper-parameters).
    ``zero_shot``: examples come from elsewhere (an h5ad), so an HF dir (any, e.g. a released
    checkpoint) needs no shards; a .ckpt still takes its tokenizer from its recorded shards.
    ``init_from`` overrides a .ckpt's recorded base model; ``trust_remote_code`` is never read from
    a checkpoint."""
    ckpt = Path(ckpt)
    if not ckpt.exists():
        raise C2SInputError(
            f"Checkpoint {ckpt} does not exist. Give a Lightning .ckpt or an HF export dir "
            "(e.g. outputs/runs/main/sft/hf)."
        )
    lightning = None
    if ckpt.is_dir() and (ckpt / "config.json").exists():
        model, tokenizer = _load_export(ckpt, trust_remote_code)
        meta = ckpt / "c2s_meta.json"
        recorded = json.loads(meta.read_text())["shards"] if meta.exists() else None
    elif ckpt.is_file():
        hp, weights, recorded = _read_lightning(ckpt, init_from, trust_remote_code)
        lightning = (hp, weights)
    else:
        raise C2SInputError(
            f"{ckpt} is neither a Lightning checkpoint file nor an HF export dir (no config.json). "
            "A sharded (FSDP) checkpoint directory is not evaluated directly: evaluate the stage's "
            "HF export (<run_dir>/<stage>/hf)."
        )
    shards = shards or recorded
    need_shards = not zero_shot or lightning is not None  # zero-shot: a .ckpt still needs its tokenizer
    if need_shards and shards is None:
        raise C2SInputError(f"No shards recorded with {ckpt}; pass shards=<prepared shard dir>.")
    from c2s.data.shards import ShardSet

    shard_set = ShardSet(shards, verify=False) if need_shards else None
    if lightning:  # a .ckpt is rebuilt with the tokenizer of the shards it is evaluated on
        tokenizer = shard_set.tokenizer()
        model = _build_lightning(*lightning, tokenizer)
    if not zero_shot and shard_set.manifest["tokenizer_id"] != tokenizer_id(tokenizer):
        raise C2SInputError(
            f"The tokenizer of {ckpt} ({tokenizer_id(tokenizer)}) does not match the one the shards in "
            f"{shards} were tokenized with ({shard_set.manifest['tokenizer_id']}). Evaluate on shards "
            "prepared with this model's tokenizer (tokenizer=pretrained tokenizer.name_or_path=<export>)."
        )
    model.config.use_cache = True
    return model.eval(), tokenizer, None if zero_shot else Path(shards)
