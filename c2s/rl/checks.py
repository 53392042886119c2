"""Fail-fast checks before a GRPO stage: the starting checkpoint must carry a tokenizer that can
drive generation (EOS to stop, PAD to batch) and that matches the prompt shards."""

from __future__ import annotations

from pathlib import Path

from c2s.errors import C2SInputError
from c2s.tokenizer import tokenizer_id


def check_generation_tokenizer(tokenizer, where: str) -> None:
    """Raise unless ``tokenizer`` has BOS, EOS and PAD tokens (prompts start with BOS,
    completions stop at EOS, groups are batched with PAD)."""
    missing = [k for k in ("bos_token_id", "eos_token_id", "pad_token_id") if getattr(tokenizer, k, None) is None]
    if missing:
        raise C2SInputError(
            f"The tokenizer of {where} cannot drive generation: it has no {', '.join(missing)}. "
            "GRPO samples completions, so start from an export whose tokenizer defines "
            "<s>, </s> and <pad> (train.py's exports and prepared shards do)."
        )


def check_grpo_start(init_from: str | None, shards_tokenizer) -> None:
    """``init_from`` (an HF export dir) must hold a generation-capable tokenizer equal to the shards'."""
    check_generation_tokenizer(shards_tokenizer, "the prompt shards")
    if init_from is None:
        return
    path = Path(init_from)
    if not path.is_dir() or not (path / "config.json").exists():
        raise C2SInputError(
            f"init_from={init_from!r} is not an HF export dir (config.json missing). GRPO starts from "
            "an export such as outputs/runs/main/sft/hf."
        )
    if not any((path / f).exists() for f in ("tokenizer.json", "tokenizer_config.json")):
        raise C2SInputError(
            f"init_from={init_from!r} has no tokenizer (tokenizer.json / tokenizer_config.json), so "
            "GRPO cannot decode or stop its completions. Save the tokenizer with the model "
            "(tokenizer.save_pretrained(dir)) or start from a train.py export, which includes it."
        )
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # noqa: BLE001 - any load failure means the same thing here
        raise C2SInputError(f"The tokenizer in {init_from} does not load ({exc}); re-export the checkpoint.") from None
    check_generation_tokenizer(tok, init_from)
    if tokenizer_id(tok) != tokenizer_id(shards_tokenizer):
        raise C2SInputError(
            f"The tokenizer of {init_from} differs from the one the prompt shards were made with. "
            "Run GRPO on the shards that model was trained on (same data/tokenizer config), or "
            "prepare shards with tokenizer=pretrained tokenizer.name_or_path=<that export>."
        )
