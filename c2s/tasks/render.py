"""Render every task on a corpus into prompt/target examples, per split."""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from c2s.data.corpus import Corpus
from c2s.data.splits import SPLITS
from c2s.tasks.base import Task

log = logging.getLogger(__name__)


@dataclass
class Example:
    task: str
    split: str
    prompt: str
    target: str
    cell_ids: list[str]
    meta: dict[str, Any] = field(default_factory=dict)


def task_rng(seed: int, task: str, split: str) -> np.random.Generator:
    """Independent stream per (seed, task, split): adding a task never changes another's examples."""
    return np.random.default_rng([seed, zlib.crc32(task.encode()), SPLITS.index(split)])


def render_all(corpus: Corpus, tasks: list[Task], seed: int) -> tuple[list[Example], dict[str, str]]:
    """(examples, skipped) where skipped maps task name -> reason (logged, never raised)."""
    examples: list[Example] = []
    skipped: dict[str, str] = {}
    for task in tqdm(tasks, desc="render tasks", unit="task"):
        reason = task.missing(corpus)
        if reason:
            skipped[task.name] = reason
            log.warning("Skipping task %s: %s.", task.name, reason)
            continue
        for split in SPLITS:
            rng = task_rng(seed, task.name, split)
            for record in task.records(corpus, split, rng):
                prompt, target = task.render(record, rng)
                meta = {k: v for k, v in record.items() if k in ("cell_type", "tissue", "perturbation", "set_name")}
                examples.append(Example(task.name, split, prompt, target, [str(c) for c in record["cell_ids"]], meta))
    return examples, skipped
