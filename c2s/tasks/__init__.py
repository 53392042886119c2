"""Tasks: the preprint's 12 pre-training tasks and the downstream tasks, one class each."""

from __future__ import annotations

from c2s.config.tasks import TaskOptionsConfig
from c2s.errors import C2SInputError
from c2s.tasks.base import EvalSpec, Task
from c2s.tasks.gene_sets import GeneSetEnumeration, GeneSetNaming
from c2s.tasks.interactions import InteractionPartners, InteractionYesNo
from c2s.tasks.multi_cell import (
    MultiCellLanguageModelling,
    NaturalLanguageInterpretation,
    SampleCellTypeAnnotation,
    SampleGenerationByCellTypes,
    SampleGenerationByDescription,
    SampleGenerationByTissue,
    TissueAnnotation,
)
from c2s.tasks.perturbation import PerturbationResponse
from c2s.tasks.single_cell import CellLanguageModelling, CellTypeAnnotation, ConditionalCellGeneration
from c2s.tasks.spatial import SpatialNeighbourGeneration, SpatialNeighbourIdentification, SpatialNicheLabel
from c2s.tasks.text import ClusterCaptioning, DatasetInterpretation, QuestionAnswering

PRETRAINING = (  # Table 1 of the preprint, in its order
    CellLanguageModelling,
    CellTypeAnnotation,
    ConditionalCellGeneration,
    MultiCellLanguageModelling,
    TissueAnnotation,
    SampleCellTypeAnnotation,
    SampleGenerationByTissue,
    SampleGenerationByCellTypes,
    SampleGenerationByDescription,
    NaturalLanguageInterpretation,
    GeneSetEnumeration,
    GeneSetNaming,
)
DOWNSTREAM = (
    PerturbationResponse,
    ClusterCaptioning,
    DatasetInterpretation,
    SpatialNicheLabel,
    SpatialNeighbourGeneration,
    SpatialNeighbourIdentification,
    QuestionAnswering,
)
KNOWLEDGE = (InteractionPartners, InteractionYesNo)  # gene-interaction facts (preprint Fig. 6B-C); opt-in
REGISTRY: dict[str, type[Task]] = {cls.name: cls for cls in PRETRAINING + DOWNSTREAM + KNOWLEDGE}


def register_task(cls: type[Task]) -> type[Task]:
    """Add a task class under its ``name`` (usable as a decorator, from any module)."""
    REGISTRY[cls.name] = cls
    return cls


def build_tasks(
    names: list[str], options: TaskOptionsConfig | None = None, match_keys: list[str] | None = None
) -> list[Task]:
    """Instantiate tasks by name; unknown names raise with the list of known ones."""
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise C2SInputError(f"Unknown task(s) {unknown}. Known tasks: {sorted(REGISTRY)}.")
    return [REGISTRY[n].from_config(options, match_keys) for n in names]


__all__ = ["DOWNSTREAM", "KNOWLEDGE", "PRETRAINING", "REGISTRY", "EvalSpec", "Task", "build_tasks", "register_task"]
