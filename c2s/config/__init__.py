"""Typed (dataclass) schemas for the Hydra configs, one file per concept; unknown or mistyped keys are rejected.

data (input, split, sentences) · tasks · prepare (tokenizer, prepare step) · model (decoder, LoRA) ·
stage (optimiser, schedule, task mix, GRPO) · logger · train (strategy, the run, its evaluation) · evaluate ·
store (Hydra)."""

from c2s.config.data import DataConfig, SentencesConfig
from c2s.config.store import register_configs

__all__ = ["DataConfig", "SentencesConfig", "register_configs"]
