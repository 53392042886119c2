"""Multi-cell tasks of Table 1: sample language modelling, tissue and cell-type annotation of
samples, conditional sample generation (by tissue, cell types, description), interpretation."""

from __future__ import annotations

from itertools import islice
from typing import Iterator

import numpy as np

from c2s.corpus.corpus import Corpus
from c2s.scoring.metric import ACCURACY, BERTSCORE, OVERLAP
from c2s.tasks.base import Task, group_samples
from c2s.tasks.columns import BATCH, Columns, GeneField, coded, const, encode, ragged


class _PerSample(Task):
    kind = "multi_cell"

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        """One record per sample (``group_samples``), ``BATCH`` samples per item, built with numpy:
        fields ``sentences`` (numbered), ``n_cells``, ``n_genes``, ``organism``, ``tissue`` where mapped, and
        where the task reads them ``description`` and ``cell_types`` (comma-separated, in order)."""
        k = self.opt.multi_genes_per_cell
        samples = group_samples(corpus, split, rng, self.opt)
        while chunk := list(islice(samples, BATCH)):
            n = len(chunk)
            off, flat = ragged(chunk)
            text = {
                "n_cells": encode(np.diff(off)),
                "n_genes": const(k, n),
                "organism": const(corpus.organism, n),
            }
            if self.uses("description"):
                first = flat[off[:-1]]
                text["description"] = (
                    encode(corpus.descriptions(first)) if corpus.dataset_text else const(corpus.description or "", n)
                )
            if corpus.has("cell_type") and self.uses("cell_types"):  # a join per sample: built where it is read
                names = corpus.labels("cell_type", flat)
                text["cell_types"] = encode(np.array([", ".join(names[a:b]) for a, b in zip(off[:-1], off[1:])]))
            if corpus.has("tissue"):  # tissue is a grouping key: a sample never mixes tissues
                cats, codes = corpus.roles["tissue"]
                text["tissue"] = coded(cats, np.asarray(codes)[flat[off[:-1]]])
            yield Columns(n, (off, flat), text, {"sentences": GeneField(off, flat, k, numbered=True)})


class MultiCellLanguageModelling(_PerSample):
    name = "multi_cell_lm"
    metric = OVERLAP
    target_field = "sentences"
    templates = (
        "Generate {n_cells} cells from one {organism} sample, each as its top {n_genes} genes.",
        "Write {n_cells} cell sentences ({n_genes} genes each) of cells drawn from the same {organism} sample.",
        "Sample {n_cells} cells from a single {organism} tissue sample; list each cell's {n_genes} highest genes.",
        "Produce a set of {n_cells} related {organism} cells as cell sentences of {n_genes} genes.",
        "List {n_cells} cells from one {organism} sample, one per line, top {n_genes} genes by expression.",
    )


class TissueAnnotation(_PerSample):
    name = "tissue_annotation"
    metric = ACCURACY
    target_field = "tissue"
    requires = ("tissue",)
    templates = (
        "These {n_cells} {organism} cells come from one sample:\n{sentences}\nWhich tissue is the sample from?",
        "Identify the tissue of origin of this sample of {n_cells} cells.\n{sentences}\nTissue:",
        "{sentences}\nThe cells above were profiled together. Name their tissue.",
        "Cell sentences from a single {organism} sample:\n{sentences}\nWhat tissue is this?",
        "Annotate the tissue of the sample containing these cells:\n{sentences}",
    )


class SampleCellTypeAnnotation(_PerSample):
    name = "sample_cell_type_annotation"
    metric = ACCURACY
    target_field = "cell_types"
    requires = ("cell_type",)
    templates = (
        "Annotate the cell type of each of these {n_cells} {organism} cells, in order, comma-separated.\n{sentences}",
        "{sentences}\nGive the cell type of every cell above, separated by commas.",
        "Here are {n_cells} cells from one sample:\n{sentences}\nList their cell types in order.",
        "Label each cell of this {organism} sample with its cell type (comma-separated, same order):\n{sentences}",
        "Cell sentences:\n{sentences}\nCell types, one per cell, in order:",
    )


class SampleGenerationByTissue(_PerSample):
    name = "sample_generation_tissue"
    metric = OVERLAP
    target_field = "sentences"
    requires = ("tissue",)
    templates = (
        "Generate {n_cells} cells from a {organism} {tissue} sample, each as its top {n_genes} genes.",
        "Write {n_cells} cell sentences for cells of {organism} {tissue}.",
        "Sample {n_cells} cells from {tissue} ({organism}); list {n_genes} genes per cell.",
        "Tissue: {tissue}. Produce {n_cells} cells from one sample as cell sentences.",
        "Simulate a {tissue} sample of {n_cells} {organism} cells, one cell sentence per line.",
    )


class SampleGenerationByCellTypes(_PerSample):
    name = "sample_generation_cell_types"
    metric = OVERLAP
    target_field = "sentences"
    requires = ("cell_type",)
    templates = (
        "Generate cells of these types, in order, each as its top {n_genes} genes: {cell_types}.",
        "Write one {organism} cell sentence for each cell type listed: {cell_types}.",
        "Cell types: {cell_types}. Produce a cell sentence of {n_genes} genes for each, in order.",
        "Simulate a {organism} sample with cells of types {cell_types}; one cell sentence per line.",
        "For each of {cell_types}, generate a {organism} cell ({n_genes} genes, descending expression).",
    )


class SampleGenerationByDescription(_PerSample):
    name = "sample_generation_description"
    metric = OVERLAP
    target_field = "sentences"
    requires = ("description",)
    templates = (
        "Study description: {description}\nGenerate {n_cells} cells from this study as cell sentences.",
        "{description}\nWrite {n_cells} cell sentences ({n_genes} genes each) consistent with the study above.",
        "Generate {n_cells} {organism} cells that could come from the dataset described here: {description}",
        "Abstract: {description}\nSample {n_cells} cells, one cell sentence per line.",
        "Given this dataset summary, produce {n_cells} cells of {n_genes} genes each.\n{description}",
    )


class NaturalLanguageInterpretation(_PerSample):
    name = "nl_interpretation"
    metric = BERTSCORE
    target_field = "description"
    requires = ("description",)
    templates = (
        "Describe the study these {organism} cells come from.\n{sentences}",
        "{sentences}\nWrite a short description of the dataset these cells were sampled from.",
        "Here are {n_cells} cells from one study:\n{sentences}\nSummarise the study in plain language.",
        "Interpret this sample of cell sentences and describe its biological context:\n{sentences}",
        "Cells:\n{sentences}\nWhat experiment and tissue could these cells come from? Describe it.",
    )
