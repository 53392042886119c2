"""Typed (dataclass) schemas for the Hydra configs; unknown or mistyped keys are rejected."""

from c2s.config.schema import DataConfig, SentencesConfig, register_configs

__all__ = ["DataConfig", "SentencesConfig", "register_configs"]
