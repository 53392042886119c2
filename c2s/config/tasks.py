"""Schemas of the task mix rendered into prompts (configs/tasks/)."""

from __future__ import annotations

from dataclasses import dataclass, field

from c2s.config.checks import one_of, positive

PROMPT_FORMATS = ("c2s", "c2s_scale")  # c2s.tasks.formats renders them


@dataclass
class TaskOptionsConfig:
    genes_per_cell: int = 100
    multi_genes_per_cell: int = 20
    max_tokens: int = 1024  # multi-cell example budget (up to 8192)
    max_cells: int = 16
    passes: int = 1
    repeats: int = 5
    neighbours: int = 5
    prompt_format: str = "c2s"  # c2s (our templates) | c2s_scale (the released C2S-Scale models' prompts)

    def __post_init__(self) -> None:
        positive(
            self,
            "genes_per_cell",
            "multi_genes_per_cell",
            "max_tokens",
            "max_cells",
            "passes",
            "repeats",
            "neighbours",
            prefix="tasks.options.",
        )
        one_of(self.prompt_format, PROMPT_FORMATS, "tasks.options.prompt_format")


@dataclass
class TasksConfig:
    names: list[str] = field(default_factory=list)  # tasks to render (skipped if metadata is missing)
    options: TaskOptionsConfig = field(default_factory=TaskOptionsConfig)
    match_keys: list[str] = field(default_factory=lambda: ["cell_type"])  # perturbation control matching
