"""Text downstream tasks: cluster captioning, dataset interpretation, question answering."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from c2s.data.corpus import Corpus
from c2s.tasks.base import Task, cells_per_sample, multi_sentences


def _sample(rng: np.random.Generator, cells: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(cells, size=min(n, cells.size), replace=False)


class ClusterCaptioning(Task):
    name = "cluster_captioning"
    kind = "downstream"
    metric = "bertscore"
    requires = ("cluster", "captions_or_key")
    templates = (
        "Write a caption for this cluster of {organism} cells:\n{cells}",
        "{cells}\nThese cells form one cluster. Describe it in a sentence.",
        "Caption the cell cluster below.\n{cells}",
        "Cells sampled from a cluster:\n{cells}\nWhat is this cluster?",
        "Summarise the identity of the cluster these cells come from:\n{cells}",
    )

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        cells = corpus.cells(split)
        obs = corpus.obs.iloc[cells]
        n = cells_per_sample(self.opt)
        for cluster, members in sorted(obs.groupby("cluster", observed=True).indices.items()):
            caption = corpus.captions.get(str(cluster))
            if not caption and "caption" in obs:  # the most common caption of the cluster's cells
                caption = obs["caption"].iloc[members].mode().iloc[0]
            if not caption:
                continue
            for _ in range(self.opt.repeats):
                chosen = _sample(rng, cells[members], n)
                yield {"cell_ids": list(corpus.obs.index[chosen]), "cells": multi_sentences(corpus, chosen, self.opt.multi_genes_per_cell),
                       "caption": caption, "organism": corpus.organism}

    def target(self, record: dict[str, Any]) -> str:
        return record["caption"]


class DatasetInterpretation(Task):
    """Cells drawn across the dataset's cell types -> its description plus the composition."""

    name = "dataset_interpretation"
    kind = "downstream"
    metric = "bertscore"
    requires = ("description", "cell_type")
    templates = (
        "Interpret this dataset from a sample of its cells:\n{cells}",
        "{cells}\nThese cells were drawn across one dataset. Describe the dataset and its cell types.",
        "Summarise the study and composition behind these {organism} cells:\n{cells}",
        "What dataset could these cells come from, and which cell types does it contain?\n{cells}",
        "Dataset sample:\n{cells}\nWrite a dataset-level interpretation.",
    )

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        cells = corpus.cells(split)
        if cells.size < 2:
            return
        n = cells_per_sample(self.opt)
        for _ in range(self.opt.repeats):
            chosen = _sample(rng, cells, n)
            types = corpus.obs["cell_type"].iloc[chosen].value_counts()
            comp = ", ".join(f"{t} ({c})" for t, c in types.items())
            yield {"cell_ids": list(corpus.obs.index[chosen]), "cells": multi_sentences(corpus, chosen, self.opt.multi_genes_per_cell),
                   "summary": f"{corpus.description} Cell types in this sample: {comp}.", "organism": corpus.organism}

    def target(self, record: dict[str, Any]) -> str:
        return record["summary"]


class QuestionAnswering(Task):
    """Items from a JSONL file: question, answer, and ``cell_ids`` or ``group`` ({role: value})."""

    name = "qa"
    kind = "downstream"
    metric = "bertscore"
    requires = ("qa",)
    templates = (
        "{cells}\nQuestion: {question}\nAnswer:",
        "Cells:\n{cells}\n{question}",
        "Use these {organism} cells to answer the question.\n{cells}\nQ: {question}",
        "Q: {question}\nContext cells:\n{cells}\nA:",
        "Answer the question about the cells below.\nQuestion: {question}\n{cells}",
    )

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        """Each item belongs to one split (seeded, see Corpus.qa); its cells are the listed ids,
        or up to a budget's worth of the cells matching its group."""
        position = {cid: i for i, cid in enumerate(corpus.obs.index)}
        n = cells_per_sample(self.opt)
        for item in corpus.qa:
            if item["split"] != split:
                continue
            if "cell_ids" in item:
                cells = np.array([position[c] for c in item["cell_ids"] if c in position], dtype=int)
            else:
                mask = np.ones(len(corpus.obs), dtype=bool)
                for key, value in item["group"].items():
                    mask &= corpus.obs[key].to_numpy() == str(value)
                cells = np.flatnonzero(mask)
            if cells.size == 0:
                continue
            chosen = np.sort(_sample(rng, cells, n))
            yield {"cell_ids": list(corpus.obs.index[chosen]), "cells": multi_sentences(corpus, chosen, self.opt.multi_genes_per_cell),
                   "question": item["question"], "answer": str(item["answer"]), "organism": corpus.organism}

    def target(self, record: dict[str, Any]) -> str:
        return record["answer"]
