"""Single-cell tasks of the preprint's Table 1: language modelling, annotation, generation."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from c2s.corpus.corpus import Corpus
from c2s.scoring.metric import ACCURACY, OVERLAP
from c2s.tasks.base import EvalSpec, Task, per_cell
from c2s.tasks.columns import Columns


class _PerCell(Task):
    kind = "single_cell"

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        return per_cell(corpus, corpus.cells(split), self.opt.genes_per_cell)


class CellLanguageModelling(_PerCell):
    name = "cell_lm"
    metric = OVERLAP
    evaluation = EvalSpec(unique_genes=True, generated_cells=True)
    target_field = "sentence"
    templates = (
        "Generate a cell sentence: the {n_genes} most expressed genes of a {organism} cell, highest first.",
        "List {n_genes} genes of a single {organism} cell in descending order of expression.",
        "Write out a {organism} cell as its top {n_genes} expressed genes, from highest to lowest.",
        "Produce a plausible cell sentence ({n_genes} genes, descending expression) for a {organism} cell.",
        "Sample one {organism} cell. Give its {n_genes} highest-expressed genes, most expressed first.",
        "Cell sentence of a {organism} single cell, top {n_genes} genes by expression:",
    )


class CellTypeAnnotation(_PerCell):
    name = "cell_type_annotation"
    metric = ACCURACY
    evaluation = EvalSpec(confusion=True, embeddings=True)
    target_field = "cell_type"
    requires = ("cell_type",)
    templates = (
        "The {n_genes} most expressed genes of a {organism} cell, highest first: {sentence}\nWhat is its cell type?",
        "Identify the cell type of this {organism} cell from its cell sentence: {sentence}\nCell type:",
        "Genes ranked by expression in one {organism} cell: {sentence}\nWhich cell type is it?",
        "Here is a cell sentence ({n_genes} genes, descending expression): {sentence}\nAnnotate the cell type.",
        "Classify the {organism} cell whose top expressed genes are: {sentence}\nAnswer with the cell type.",
        "Cell: {sentence}\nPredict the cell type of this {organism} cell.",
    )


class ConditionalCellGeneration(_PerCell):
    name = "conditional_cell_generation"
    metric = OVERLAP
    evaluation = EvalSpec(unique_genes=True, generated_cells=True)
    target_field = "sentence"
    requires = ("cell_type",)
    templates = (
        "Generate a cell sentence of {n_genes} genes for a {organism} {cell_type} cell.",
        "List the {n_genes} most expressed genes of a {cell_type} cell ({organism}), highest first.",
        "Write a plausible {cell_type} cell from {organism} as its top {n_genes} genes in descending order.",
        "Produce the cell sentence of one {organism} {cell_type}: {n_genes} genes ranked by expression.",
        "Cell type: {cell_type}. Organism: {organism}. Generate its top {n_genes} expressed genes.",
        "Simulate a single {cell_type} cell ({organism}); give its {n_genes} highest-expressed genes.",
    )
