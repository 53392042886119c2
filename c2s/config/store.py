"""Hydra registration: the schemas in the ConfigStore, and the resolvers the YAML files use."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from c2s.config.data import SentencesConfig
from c2s.config.evaluate import EvaluateConfig
from c2s.config.prepare import PrepareConfig
from c2s.config.train import TrainConfig
from c2s.config.validate import check_writable
from c2s.errors import C2SInputError


def hydra_dir(path: str) -> str:
    """Hydra's output dir: ``path`` if writable, else a temp dir. Hydra creates it before any
    check of ours runs, so an unwritable ``run_dir`` would otherwise end in Hydra's traceback
    instead of validation's one-line error."""
    try:
        check_writable(path, "hydra.run.dir")
        return path
    except C2SInputError:
        return str(Path(tempfile.gettempdir()) / "c2s-hydra" / Path(path).name)


def register_configs() -> None:
    """Register the schemas with Hydra's ConfigStore (idempotent)."""
    if not OmegaConf.has_resolver("stem"):
        OmegaConf.register_new_resolver("stem", lambda p: Path(str(p).split(":")[-1]).stem)
    if not OmegaConf.has_resolver("hydra_dir"):
        OmegaConf.register_new_resolver("hydra_dir", hydra_dir)
    cs = ConfigStore.instance()
    cs.store(name="sentences_schema", node=SentencesConfig)
    cs.store(name="prepare_schema", node=PrepareConfig)
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="evaluate_schema", node=EvaluateConfig)
