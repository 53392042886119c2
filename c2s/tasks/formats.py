"""Prompt formats: how a task's record becomes prompt and target text.

- ``c2s`` (default): our paraphrased templates (several per task, one drawn per example); gene
  names as in the data; the organism as configured (``human``).
- ``c2s_scale``: the exact prompts of the released C2S-Scale models (their model cards and the
  cell2sentence prompt files): one template per task, gene names upper-cased (done when the
  corpus is built, see ``c2s.io.gene_names``), the organism's Latin name, and a period after
  every answer and every cell sentence. Tasks those models were not trained on are skipped.
  Several cells are listed as cell2sentence 1.2.0's ``C2SMultiCellPromptFormatter`` lists them:
  ``Cell j:`` on its own line, then the sentence and a period; the template's own period closes the last
  one (the package also appends ``.\n`` after the last cell, which doubles that period: not copied).

A format is data (strings), never code from a checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

ORGANISMS = {  # data.organism -> the name the C2S-Scale prompts use
    "human": "Homo sapiens",
    "homo sapiens": "Homo sapiens",
    "hs": "Homo sapiens",
    "mouse": "Mus musculus",
    "mus musculus": "Mus musculus",
    "mm": "Mus musculus",
}


@dataclass(frozen=True)
class ScaleTemplate:
    """One task's C2S-Scale prompt; ``{sentence}``/``{control}``: gene lists; the target is the
    task's answer (a label or a gene list) followed by ``target_suffix``."""

    prompt: str
    target_suffix: str = "."


C2S_SCALE: dict[str, ScaleTemplate] = {
    "cell_type_annotation": ScaleTemplate(
        "The following is a list of {n_genes} gene names ordered by descending expression level in a {organism} "
        "cell. Your task is to give the cell type which this cell belongs to based on its gene expression.\n"
        "Cell sentence: {sentence}.\nThe cell type corresponding to these genes is:"
    ),
    "conditional_cell_generation": ScaleTemplate(
        "Generate a list of {n_genes} genes in order of descending expression which represent a {organism} cell of "
        "cell type {cell_type}.\nCell sentence:"
    ),
    # the multi-cell prompts: cell2sentence 1.2.0's prompts/multi_cell_*.json (one template of each file)
    "tissue_annotation": ScaleTemplate(
        "The following is a list of {n_genes} gene names ordered by descending expression level for {n_cells} "
        "different {organism} cells. Your task is to give the tissue which these cells belong to based on their "
        "gene expression.\nCell sentences:\n{sentences}.\nThe tissue which these cells belong to is:"
    ),
    "sample_generation_tissue": ScaleTemplate(
        "Generate a list of {n_genes} genes in order of descending expression for {n_cells} different {organism} "
        "cells from a {tissue} tissue.\nCell sentences:\n"
    ),
    "nl_interpretation": ScaleTemplate(
        "Consider these {n_genes} highly expressed genes, ordered by descending expression, from {n_cells} "
        "{organism} cells. Using this, your task is to generate an abstract summary which summarizes the "
        "biological insights contained in these cells.\n{sentences}.\nAbstract summary:"
    ),
    "perturbation_response": ScaleTemplate(
        "Given the following cell sentence of {n_genes} expressed genes representing a cell's basal state, predict "
        "the cell sentence after applying the perturbation: {perturbation}.\nControl cell sentence: {control}.\n\n"
        "Perturbed cell sentence:"
    ),
}


CELL_LINES = {  # format -> (one cell of a numbered gene field, with "{j}" and "{s}"; the separator of cells)
    "c2s": ("Cell {j}: {s}", "\n"),
    "c2s_scale": ("Cell {j}:\n{s}", ".\n"),
}


def organism_name(organism: str, prompt_format: str) -> str:
    """The organism as the format writes it (c2s_scale: ``Homo sapiens`` / ``Mus musculus``;
    other names are kept as given)."""
    if prompt_format != "c2s_scale":
        return organism
    return ORGANISMS.get(organism.strip().lower(), organism)


def upper_case_genes(prompt_format: str) -> bool:
    """Whether gene names are upper-cased for this format."""
    return prompt_format == "c2s_scale"
