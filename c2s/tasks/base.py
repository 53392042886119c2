"""What a task is: a name, a kind, paraphrased templates, records drawn from a corpus,
``render(record, rng) -> (prompt, target)``, and the metric that scores it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

import numpy as np

from c2s.data.corpus import Corpus

KINDS = ("single_cell", "multi_cell", "gene_set", "downstream")


@dataclass(frozen=True)
class TaskOptions:
    """Knobs shared by tasks (configs/prepare.yaml ``tasks``).

    genes_per_cell: genes in a single-cell sentence (≤ the corpus top_k).
    multi_genes_per_cell: genes per cell inside multi-cell prompts.
    max_tokens: token budget of a multi-cell example (words ≈ tokens with the gene tokenizer).
    max_cells: cap on cells per multi-cell example.
    passes: how many times each group is re-sampled into multi-cell examples.
    repeats: renders per gene set / QA item / caption (different templates and orders).
    """

    genes_per_cell: int = 100
    multi_genes_per_cell: int = 20
    max_tokens: int = 1024
    max_cells: int = 16
    passes: int = 1
    repeats: int = 5
    neighbours: int = 5


class Task:
    """Base class. Subclasses set the class attributes and implement ``records`` and ``target``."""

    name: ClassVar[str]
    kind: ClassVar[str]
    metric: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()  # obs roles or corpus attributes
    templates: ClassVar[tuple[str, ...]]

    def __init__(self, options: TaskOptions | None = None) -> None:
        self.opt = options or TaskOptions()

    def missing(self, corpus: Corpus) -> str | None:
        """Why this task cannot run on ``corpus`` (None when it can)."""
        for need in self.requires:
            if need in ("description", "spatial", "gene_sets", "qa", "control_value", "captions_or_key"):
                ok = {
                    "description": corpus.description,
                    "spatial": corpus.spatial is not None,
                    "gene_sets": corpus.gene_sets,
                    "qa": corpus.qa,
                    "control_value": corpus.control_value,
                    "captions_or_key": corpus.captions or corpus.has("caption"),
                }[need]
                if not ok:
                    return f"no {need} (set it in the data config)"
            elif not corpus.has(need):
                return f"no {need} column (set data.{need}_key)"
        return None

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def target(self, record: dict[str, Any]) -> str:
        raise NotImplementedError

    def render(self, record: dict[str, Any], rng: np.random.Generator) -> tuple[str, str]:
        """(prompt, target): a randomly chosen paraphrase filled from the record."""
        template = self.templates[int(rng.integers(len(self.templates)))]
        return template.format(**record), self.target(record)


def sentence_record(corpus: Corpus, i: int, k: int) -> dict[str, Any]:
    """Fields of one cell: its id, sentence, gene count and every mapped metadata role."""
    row = corpus.obs.iloc[i]
    rec = {"cell_ids": [corpus.obs.index[i]], "sentence": corpus.sentences.sentence(i, k), "organism": corpus.organism}
    rec["n_genes"] = len(rec["sentence"].split())
    rec.update({c: row[c] for c in corpus.obs.columns if c != "split"})
    return rec


def multi_sentences(corpus: Corpus, cells: np.ndarray, k: int) -> str:
    """Numbered sentences of several cells, one per line."""
    return "\n".join(f"Cell {j + 1}: {corpus.sentences.sentence(i, k)}" for j, i in enumerate(cells))


def cells_per_sample(opt: TaskOptions) -> int:
    """Cells that fit the token budget: ~k gene tokens + 4 for 'Cell n:' and newline, 64 for the prompt."""
    return max(1, min(opt.max_cells, (opt.max_tokens - 64) // (opt.multi_genes_per_cell + 4)))


def group_samples(corpus: Corpus, split: str, rng: np.random.Generator, opt: TaskOptions) -> Iterator[np.ndarray]:
    """Multi-cell samples: cells grouped by dataset and tissue/donor/batch (where mapped),
    shuffled, cut into budget-sized samples; never mixing splits or groups."""
    cells = corpus.cells(split)
    keys = [k for k in ("tissue", "donor", "batch") if corpus.has(k)]
    groups = corpus.obs.iloc[cells].groupby(keys, sort=True, observed=True).indices if keys else {"all": np.arange(cells.size)}
    n = cells_per_sample(opt)
    for _ in range(opt.passes):
        for key in sorted(groups, key=str):
            members = cells[groups[key]]
            if members.size < 2:
                continue
            members = rng.permutation(members)
            for s in range(0, members.size, n):
                part = members[s : s + n]
                if part.size >= 2:
                    yield part
