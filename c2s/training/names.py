"""Plugin names in a config, checked against the registries that define them, before any data or model work.

Each family of plugins has one list of names: its registry. The schemas in c2s/config/ do not repeat them
(they sit below the registries); this check runs right after schema validation in every entry point.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from c2s.errors import C2SInputError


def _check(key: str, names: Iterable[str], registry: Mapping[str, Any]) -> None:
    unknown = [n for n in names if n not in registry]
    if unknown:
        shown = unknown[0] if len(unknown) == 1 else unknown
        raise C2SInputError(f"{key}={shown!r} is not one of: {', '.join(sorted(registry))}.")


def check_data_names(config: Any) -> None:
    """Prepare-level names: data sources, the tokenizer kind and the tasks."""
    from c2s.io.sources import SOURCES, scheme_of
    from c2s.tasks import REGISTRY
    from c2s.tokenizer import TOKENIZERS

    for d in [config.data, *(getattr(config, "extra_data", None) or [])]:
        _check("data.path scheme", [scheme_of(str(d.path))], SOURCES)
    _check("tokenizer.kind", [config.tokenizer.kind], TOKENIZERS)
    _check("tasks.names", config.tasks.names, REGISTRY)


def check_train_names(config: Any) -> None:
    """Every name a train config holds: data, tokenizer, tasks, task-mix weights, stage modes (and each recipe's
    own checks, e.g. reward names), the strategy and the logger."""
    from c2s.tasks import REGISTRY
    from c2s.training.loggers import LOGGERS
    from c2s.training.recipes import RECIPES
    from c2s.training.strategies import STRATEGIES

    check_data_names(config)
    _check("strategy.name", [config.strategy.name], STRATEGIES)
    _check("logger.kind", [config.logger.kind], LOGGERS)
    for name in config.order():
        stage = config.stages[name]
        _check(f"stages.{name}.mode", [stage.mode], RECIPES)
        _check(f"stages.{name}.task_mix.weights", list(stage.task_mix.weights), REGISTRY)
        RECIPES[stage.mode].check(name, config)
    if config.evaluate.tasks:
        _check("evaluate.tasks", config.evaluate.tasks, REGISTRY)


def check_eval_names(config: Any) -> None:
    """evaluate.py: the tasks, the logger, and a zero-shot file's data source."""
    from c2s.io.sources import SOURCES, scheme_of
    from c2s.tasks import REGISTRY
    from c2s.training.loggers import LOGGERS

    _check("logger.kind", [config.logger.kind], LOGGERS)
    _check("tasks", config.tasks or [], REGISTRY)
    if config.data is not None:
        _check("data.path scheme", [scheme_of(str(config.data.path))], SOURCES)
