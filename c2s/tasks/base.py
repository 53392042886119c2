"""What a task is: a name, a kind, paraphrased templates, records drawn from a corpus, the
field its target comes from, and the metric that scores it. A record maps template fields to
text, or to :class:`Genes` slots that the renderer fills with gene names (text) or gene token
ids (token space); ``cells`` lists the corpus positions of the cells it shows. The built-in tasks
build their records as columns directly (c2s.tasks.columns, no dict per example); a plugin task
may implement ``records`` (dicts) instead of ``columns``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

import numpy as np

from c2s.config.tasks import TaskOptionsConfig
from c2s.corpus.corpus import Corpus
from c2s.scoring.metric import Metric
from c2s.tasks.columns import BATCH, Columns, batched, cells_field, coded, const, encode
from c2s.tasks.columns import Genes as Genes  # re-exported: a plugin's records() fills its gene slots with it
from c2s.tasks.formats import C2S_SCALE
from c2s.tasks.template_rows import template_fields


@dataclass(frozen=True)
class EvalSpec:
    """What evaluation needs to know about a task beyond its metric (c2s.eval.runner asks these, never a name).

    unique_genes: the answer is one gene list naming each gene once, so generation may ban repeating a gene token.
    generated_cells: the answer is one cell: also scored as a population (scFID, MMD, Wasserstein against real
        cells), decoded by sampling too, with a training cell of the same ``label_field`` as a baseline.
    label_field: the meta field that labels a cell (generated cells' same-label baseline).
    confusion: draw the confusion matrix of the answers.
    embeddings: the cells of this task's prompts feed the embedding probe (kNN on hidden states, UMAP), labelled by
        the answers.
    """

    unique_genes: bool = False
    generated_cells: bool = False
    label_field: str = "cell_type"
    confusion: bool = False
    embeddings: bool = False


class Task:
    """Base class. Subclasses set the class attributes and implement ``records`` (record dicts)
    or ``columns`` (the same records, in columns)."""

    name: ClassVar[str]
    kind: ClassVar[str]
    metric: ClassVar[Metric]  # c2s.scoring.metric
    target_field: ClassVar[str]  # the record field that is the answer
    requires: ClassVar[tuple[str, ...]] = ()  # obs roles or corpus attributes
    templates: ClassVar[tuple[str, ...]]
    evaluation: ClassVar[EvalSpec] = EvalSpec()

    target_suffix: str = ""  # after the answer (c2s_scale: a period)

    def __init__(self, options: TaskOptionsConfig | None = None) -> None:
        self.opt = options or TaskOptionsConfig()
        if self.opt.prompt_format == "c2s_scale" and self.name in C2S_SCALE:
            self.templates = (C2S_SCALE[self.name].prompt,)
            self.target_suffix = C2S_SCALE[self.name].target_suffix

    @classmethod
    def from_config(cls, options: TaskOptionsConfig | None, match_keys: list[str] | None = None) -> "Task":
        """The task for the ``tasks`` config (``options``, and the keys perturbation pairs are matched on)."""
        return cls(options)

    def missing(self, corpus: Corpus) -> str | None:
        """Why this task cannot run on ``corpus`` (None when it can)."""
        if self.opt.prompt_format == "c2s_scale" and self.name not in C2S_SCALE:
            return f"the c2s_scale prompt format covers only {sorted(C2S_SCALE)}"
        for need in self.requires:
            if need == "interactions" and not (corpus.interactions is not None and len(corpus.interactions)):
                return "no interaction pair has both genes in the data (see data.interactions_csv)"
            if need in ("description", "spatial", "gene_sets", "qa", "control_value", "captions_or_key"):
                ok = {
                    "description": corpus.has_description(),
                    "spatial": corpus.spatial is not None,
                    "gene_sets": corpus.gene_sets,
                    "qa": corpus.qa,
                    "control_value": corpus.control_value,
                    "captions_or_key": corpus.captions or corpus.has("caption"),
                }[need]
                if not ok:
                    return f"no {need} (set it in the data config)"
            elif need != "interactions" and not corpus.has(need):
                return f"no {need} column (set data.{need}_key)"
        return None

    def uses(self, field: str) -> bool:
        """Whether ``field`` is the answer or appears in a template: a text field nothing reads need not be built."""
        return field == self.target_field or any(field in template_fields(t) for t in self.templates)

    def uses_interactions(self) -> bool:
        """Whether rendering needs the corpus's interaction table (the plan builds it only then)."""
        return "interactions" in self.requires

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        """The records in columns, at most ``BATCH`` per item."""
        return batched(self.records(corpus, split, rng))


def sentence_columns(corpus: Corpus, cells: np.ndarray, k: int) -> Columns:
    """Fields of each cell: its sentence slot (``sentence``), gene count (``n_genes``), organism
    and every mapped metadata role."""
    cells = np.asarray(cells, dtype=np.int64)
    text = {
        "organism": const(corpus.organism, cells.size),
        "n_genes": encode(np.minimum(k, corpus.sentences.lengths[cells])),
    }
    for r, (cats, codes) in corpus.roles.items():
        text[r] = coded(cats, np.asarray(codes)[cells])
    return Columns(
        cells.size,
        (np.arange(cells.size + 1, dtype=np.int64), cells),
        text,
        {"sentence": cells_field(cells[:, None], k)},
    )


def per_cell(corpus: Corpus, cells: np.ndarray, k: int) -> Iterator[Columns]:
    """:func:`sentence_columns` of ``cells``, ``BATCH`` cells at a time."""
    for b in range(0, cells.size, BATCH):
        yield sentence_columns(corpus, cells[b : b + BATCH], k)


def cells_per_sample(opt: TaskOptionsConfig) -> int:
    """Cells that fit the token budget: ~k gene tokens + 4 for 'Cell n:' and newline, 64 for the prompt."""
    return max(1, min(opt.max_cells, (opt.max_tokens - 64) // (opt.multi_genes_per_cell + 4)))


def group_runs(corpus: Corpus, cells: np.ndarray, roles: list[str]) -> list[np.ndarray]:
    """``cells`` grouped by equal values of ``roles`` (groups in sorted value order, members
    ascending): one stable sort, O(n log n)."""
    if not roles or cells.size == 0:
        return [cells] if cells.size else []
    keys = [np.asarray(corpus.roles[r][1])[cells] for r in roles]
    order = np.lexsort(keys[::-1])
    stacked = np.stack([k[order] for k in keys])
    cuts = np.flatnonzero(np.any(np.diff(stacked, axis=1) != 0, axis=0)) + 1
    return np.split(cells[order], cuts)


def group_samples(corpus: Corpus, split: str, rng: np.random.Generator, opt: TaskOptionsConfig) -> Iterator[np.ndarray]:
    """Multi-cell samples: cells grouped by tissue/donor/batch (where mapped), shuffled, cut
    into budget-sized samples; never mixing splits or groups."""
    keys = [k for k in ("tissue", "donor", "batch", "dataset") if corpus.has(k)]  # a sample is from one dataset
    groups = group_runs(corpus, corpus.cells(split), keys)
    n = cells_per_sample(opt)
    for _ in range(opt.passes):
        for members in groups:
            if members.size < 2:
                continue
            members = rng.permutation(members)
            for s in range(0, members.size, n):
                part = members[s : s + n]
                if part.size >= 2:
                    yield part
