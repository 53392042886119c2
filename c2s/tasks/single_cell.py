"""Single-cell tasks of the preprint's Table 1: language modelling, annotation, generation."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from c2s.data.corpus import Corpus
from c2s.tasks.base import Genes, Task, sentence_records


class _PerCell(Task):
    kind = "single_cell"

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        cells = corpus.cells(split)
        for b in range(0, cells.size, 65_536):  # blocks bound the per-block label lists
            yield from sentence_records(corpus, cells[b : b + 65_536], self.opt.genes_per_cell)


class CellLanguageModelling(_PerCell):
    name = "cell_lm"
    metric = "overlap"
    templates = (
        "Generate a cell sentence: the {n_genes} most expressed genes of a {organism} cell, highest first.",
        "List {n_genes} genes of a single {organism} cell in descending order of expression.",
        "Write out a {organism} cell as its top {n_genes} expressed genes, from highest to lowest.",
        "Produce a plausible cell sentence ({n_genes} genes, descending expression) for a {organism} cell.",
        "Sample one {organism} cell. Give its {n_genes} highest-expressed genes, most expressed first.",
        "Cell sentence of a {organism} single cell, top {n_genes} genes by expression:",
    )

    def target(self, record: dict[str, Any]) -> Genes:
        return record["sentence"]


class CellTypeAnnotation(_PerCell):
    name = "cell_type_annotation"
    metric = "accuracy"
    requires = ("cell_type",)
    templates = (
        "The {n_genes} most expressed genes of a {organism} cell, highest first: {sentence}\nWhat is its cell type?",
        "Identify the cell type of this {organism} cell from its cell sentence: {sentence}\nCell type:",
        "Genes ranked by expression in one {organism} cell: {sentence}\nWhich cell type is it?",
        "Here is a cell sentence ({n_genes} genes, descending expression): {sentence}\nAnnotate the cell type.",
        "Classify the {organism} cell whose top expressed genes are: {sentence}\nAnswer with the cell type.",
        "Cell: {sentence}\nPredict the cell type of this {organism} cell.",
    )

    def target(self, record: dict[str, Any]) -> str:
        return record["cell_type"]


class ConditionalCellGeneration(_PerCell):
    name = "conditional_cell_generation"
    metric = "overlap"
    requires = ("cell_type",)
    templates = (
        "Generate a cell sentence of {n_genes} genes for a {organism} {cell_type} cell.",
        "List the {n_genes} most expressed genes of a {cell_type} cell ({organism}), highest first.",
        "Write a plausible {cell_type} cell from {organism} as its top {n_genes} genes in descending order.",
        "Produce the cell sentence of one {organism} {cell_type}: {n_genes} genes ranked by expression.",
        "Cell type: {cell_type}. Organism: {organism}. Generate its top {n_genes} expressed genes.",
        "Simulate a single {cell_type} cell ({organism}); give its {n_genes} highest-expressed genes.",
    )

    def target(self, record: dict[str, Any]) -> Genes:
        return record["sentence"]
