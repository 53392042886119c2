"""Text downstream tasks: cluster captioning, dataset interpretation, question answering."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from c2s.corpus.corpus import Corpus
from c2s.scoring.metric import BERTSCORE
from c2s.tasks.base import Task, cells_per_sample, group_runs
from c2s.tasks.columns import Columns, GeneField, chunks, const, encode, ragged


def _positions(corpus: Corpus, ids: list[str]) -> dict[str, int]:
    """Corpus positions of the given cell ids (one hashed pass over all ids, in Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not ids:
        return {}
    wanted = pa.array(sorted(set(ids)), pa.string())
    hit = pc.index_in(corpus.cell_ids, value_set=wanted).to_numpy(zero_copy_only=False)
    found = np.flatnonzero(~np.isnan(hit.astype(float)))
    return {wanted[int(hit[i])].as_py(): int(i) for i in found}


def _sample(rng: np.random.Generator, cells: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(cells, size=min(n, cells.size), replace=False)


def _samples(corpus: Corpus, chosen: list[np.ndarray], k: int, **text: list) -> Iterator[Columns]:
    """Columns of multi-cell samples: example i shows the cells ``chosen[i]`` (numbered, ``k`` genes each)
    and the per-example strings ``text[f][i]``; the corpus's organism as ``organism``."""
    if not chosen:
        return
    cells = ragged(chosen)
    fields = {f: encode(np.array(v, dtype=object).astype(str)) for f, v in text.items()}
    fields["organism"] = const(corpus.organism, len(chosen))
    yield from chunks(Columns(len(chosen), cells, fields, {"sentences": GeneField(*cells, k=k, numbered=True)}))


class ClusterCaptioning(Task):
    name = "cluster_captioning"
    kind = "downstream"
    metric = BERTSCORE
    target_field = "caption"
    requires = ("cluster", "captions_or_key")
    templates = (
        "Write a caption for this cluster of {organism} cells:\n{sentences}",
        "{sentences}\nThese cells form one cluster. Describe it in a sentence.",
        "Caption the cell cluster below.\n{sentences}",
        "Cells sampled from a cluster:\n{sentences}\nWhat is this cluster?",
        "Summarise the identity of the cluster these cells come from:\n{sentences}",
    )

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        """``repeats`` samples of each captioned cluster (clusters in sorted order)."""
        n = cells_per_sample(self.opt)
        ccats, ccodes = corpus.roles["cluster"]
        chosen, captions = [], []
        for members in group_runs(corpus, corpus.cells(split), ["cluster"]):
            caption = corpus.captions.get(str(ccats[ccodes[members[0]]]))
            if not caption and corpus.has("caption"):  # the most common caption of the cluster's cells
                cats, codes = corpus.roles["caption"]
                caption = cats[np.bincount(np.asarray(codes)[members]).argmax()]
            if not caption:
                continue
            for _ in range(self.opt.repeats):
                chosen.append(_sample(rng, members, n))
                captions.append(caption)
        yield from _samples(corpus, chosen, self.opt.multi_genes_per_cell, caption=captions)


class DatasetInterpretation(Task):
    """Cells drawn across the dataset's cell types -> its description plus the composition."""

    name = "dataset_interpretation"
    kind = "downstream"
    metric = BERTSCORE
    target_field = "summary"
    requires = ("description", "cell_type")
    templates = (
        "Interpret this dataset from a sample of its cells:\n{sentences}",
        "{sentences}\nThese cells were drawn across one dataset. Describe the dataset and its cell types.",
        "Summarise the study and composition behind these {organism} cells:\n{sentences}",
        "What dataset could these cells come from, and which cell types does it contain?\n{sentences}",
        "Dataset sample:\n{sentences}\nWrite a dataset-level interpretation.",
    )

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        """Samples of one dataset each (per dataset, when datasets have their own text), summarised by that
        dataset's text and the sample's composition."""
        cells = corpus.cells(split)
        per_dataset = bool(corpus.dataset_text) and corpus.has("dataset")
        n = cells_per_sample(self.opt)
        chosen, descriptions = [], []
        for members in group_runs(corpus, cells, ["dataset"]) if per_dataset else [cells]:
            if members.size < 2:
                continue
            description = corpus.descriptions(members[:1])[0]
            for _ in range(self.opt.repeats):
                chosen.append(_sample(rng, members, n))
                descriptions.append(description)
        if not chosen:
            return
        off, flat = ragged(chosen)
        labels = corpus.labels("cell_type", flat).astype(str)
        summaries = []
        for i, description in enumerate(descriptions):
            types, counts = np.unique(labels[off[i] : off[i + 1]], return_counts=True)
            order = np.lexsort((types, -counts))  # most common first, ties alphabetical
            comp = ", ".join(f"{types[j]} ({counts[j]})" for j in order)
            summaries.append(f"{description} Cell types in this sample: {comp}.")
        yield from _samples(corpus, chosen, self.opt.multi_genes_per_cell, summary=summaries)


class QuestionAnswering(Task):
    """Items from a JSONL file: question, answer, and ``cell_ids`` or ``group`` ({role: value})."""

    name = "qa"
    kind = "downstream"
    metric = BERTSCORE
    target_field = "answer"
    requires = ("qa",)
    templates = (
        "{sentences}\nQuestion: {question}\nAnswer:",
        "Cells:\n{sentences}\n{question}",
        "Use these {organism} cells to answer the question.\n{sentences}\nQ: {question}",
        "Q: {question}\nContext cells:\n{sentences}\nA:",
        "Answer the question about the cells below.\nQuestion: {question}\n{sentences}",
    )

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        """Each item belongs to one split (seeded, see Corpus.qa); its cells are the listed ids,
        or up to a budget's worth of the cells matching its group."""
        n = cells_per_sample(self.opt)
        items = [it for it in corpus.qa if it["split"] == split]
        listed = _positions(corpus, [c for it in items for c in it.get("cell_ids", [])])
        groups = {}  # (roles) -> {values: cells}: one sort per distinct set of roles
        for roles in sorted({tuple(sorted(it["group"])) for it in items if "cell_ids" not in it}):
            runs = group_runs(corpus, np.arange(len(corpus.sentences)), list(roles))
            groups[roles] = {tuple(str(corpus.roles[r][0][corpus.roles[r][1][m[0]]]) for r in roles): m for m in runs}
        chosen, questions, answers = [], [], []
        for item in items:
            if "cell_ids" in item:
                cells = np.array([listed[c] for c in item["cell_ids"] if c in listed], dtype=np.int64)
            else:
                roles = tuple(sorted(item["group"]))
                cells = groups[roles].get(tuple(str(item["group"][r]) for r in roles), np.zeros(0, np.int64))
            if cells.size == 0:
                continue
            chosen.append(np.sort(_sample(rng, cells, n)))
            questions.append(item["question"])
            answers.append(str(item["answer"]))
        yield from _samples(corpus, chosen, self.opt.multi_genes_per_cell, question=questions, answer=answers)
