"""Schemas of the task mix rendered into prompts (configs/tasks/)."""

from __future__ import annotations

from dataclasses import dataclass, field

from c2s.config.checks import one_of, positive

PROMPT_FORMATS = ("c2s", "c2s_scale")  # c2s.tasks.formats renders them


@dataclass
class TaskOptionsConfig:
    """Knobs shared by tasks (configs/prepare.yaml ``tasks.options``).

    genes_per_cell: genes in a single-cell sentence (<= the corpus top_k).
    multi_genes_per_cell: genes per cell inside multi-cell prompts.
    max_tokens: token budget of a multi-cell example (words ~ tokens with the gene tokenizer), up to 8192.
    max_cells: cap on cells per multi-cell example.
    passes: how many times each group is re-sampled into multi-cell examples.
    repeats: renders per gene set / QA item / caption (different templates and orders).
    neighbours: spatial neighbours per cell (spatial tasks).
    prompt_format: ``c2s`` (our templates) or ``c2s_scale`` (the released C2S-Scale models' exact prompts,
    c2s.tasks.formats).
    train_pair_candidates: perturbation response pairs each perturbed training cell with the closest of this many
    controls drawn from its match group (most shared sentence genes); 1 = a uniform draw. Val and test always draw
    uniformly (c2s.tasks.perturbation).
    train_identity_pairs: perturbation response also renders each control training cell paired with itself under the
    control condition (copy supervision; c2s.tasks.perturbation).
    interaction_context: the spatial niche and neighbour-identification prompts list the ligand–receptor pairs
    expressed across the centre and each other cell (c2s.tasks.interaction_context; needs an interaction table).
    """

    genes_per_cell: int = 100
    multi_genes_per_cell: int = 20
    max_tokens: int = 1024
    max_cells: int = 16
    passes: int = 1
    repeats: int = 5
    neighbours: int = 5
    prompt_format: str = "c2s"
    interaction_context: bool = False
    train_pair_candidates: int = 1
    train_identity_pairs: bool = False

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
            "train_pair_candidates",
            prefix="tasks.options.",
        )
        one_of(self.prompt_format, PROMPT_FORMATS, "tasks.options.prompt_format")


@dataclass
class TasksConfig:
    names: list[str] = field(default_factory=list)  # tasks to render (skipped if metadata is missing)
    options: TaskOptionsConfig = field(default_factory=TaskOptionsConfig)
    match_keys: list[str] = field(default_factory=lambda: ["cell_type"])  # perturbation control matching
