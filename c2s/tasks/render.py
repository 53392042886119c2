"""Records -> skeletons: a template filled with the record's text fields, with a sentinel
character where each gene list goes. The text path (``render_all``) fills the sentinels with
gene names; the token path (c2s.data.assemble) with gene token ids.

Convention: every gene in a rendered text follows a space (templates put a space before each
gene field; targets are tokenized with a leading space), so one gene is one token " GENE".
"""

from __future__ import annotations

import logging
import string
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator

import numpy as np
from tqdm.auto import tqdm

from c2s.data.corpus import Corpus
from c2s.data.splits import SPLITS
from c2s.tasks.base import Genes, Task
from c2s.tasks.formats import organism_name

log = logging.getLogger(__name__)
SENT = "\ue000"  # private-use character marking a gene list in a skeleton
META_KEYS = ("cell_type", "tissue", "perturbation", "set_name")


@dataclass
class Example:
    task: str
    split: str
    prompt: str
    target: str
    cell_ids: list[str]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Skeleton:
    """One record, rendered up to its gene lists."""

    prompt: str  # template text with SENT per gene list
    target: str
    slots: list[Genes]  # in order of the SENTs (prompt, then target)
    cells: np.ndarray  # corpus positions shown (the cell_ids column)
    meta: dict[str, Any]


def task_rng(seed: int, task: str, split: str) -> np.random.Generator:
    """Independent stream per (seed, task, split): adding a task never changes another's examples."""
    return np.random.default_rng([seed, zlib.crc32(task.encode()), SPLITS.index(split)])


@lru_cache(maxsize=None)
def template_fields(template: str) -> tuple[str, ...]:
    """Field names of ``template`` in order of appearance."""
    return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f)


@lru_cache(maxsize=64)
def _numbered(n: int) -> str:
    return "\n".join(f"Cell {j + 1}: {SENT}" for j in range(n))


def placeholder(g: Genes) -> str:
    return _numbered(len(g.cells)) if g.numbered else SENT


def skeleton(task: Task, record: dict[str, Any], rng: np.random.Generator) -> Skeleton:
    """Pick a paraphrase with ``rng`` and fill it, gene lists as SENT."""
    template = task.templates[int(rng.integers(len(task.templates)))]
    values, slots = {}, []
    for f in template_fields(template):
        v = record[f]
        if isinstance(v, Genes):
            values[f] = placeholder(v)
            slots.append(v)
        else:
            values[f] = v
    if "organism" in values and task.opt.prompt_format != "c2s":
        values["organism"] = organism_name(values["organism"], task.opt.prompt_format)
    target = task.target(record)
    if isinstance(target, Genes):
        slots.append(target)
        target = placeholder(target)
    if task.target_suffix:
        target = f"{target}{task.target_suffix}"
    meta = {k: str(record[k]) for k in META_KEYS if k in record}
    return Skeleton(template.format(**values), str(target), slots, record["cells"], meta)


def skeletons(corpus: Corpus, task: Task, split: str, seed: int) -> Iterator[Skeleton]:
    rng = task_rng(seed, task.name, split)
    for record in task.records(corpus, split, rng):
        yield skeleton(task, record, rng)


def fill(text: str, genes: list[np.ndarray], names: np.ndarray) -> str:
    """Replace each SENT in ``text`` by its gene names (space-joined), in order."""
    parts = text.split(SENT)
    out = [parts[0]]
    for ids, rest in zip(genes, parts[1:]):
        out += [" ".join(names[ids]), rest]
    return "".join(out)


_NO_CELL = np.array([-1])


def batch_genes(corpus: Corpus, sks: list[Skeleton]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gene ids of every run (one per SENT) of a batch, ragged: (run offsets, gene ids,
    per-example run offsets). Cells are read from the store in one sorted gather."""
    cells, run_k, run_n, explicit, n_runs = [], [], [], {}, []
    r = 0
    for sk in sks:
        start = r
        for g in sk.slots:
            if g.ids is not None:
                explicit[r] = np.asarray(g.ids)
                cells.append(_NO_CELL)
                run_k.append(len(g.ids))
                run_n.append(1)
                r += 1
            else:
                cells.append(g.cells)
                run_k.append(g.k)
                run_n.append(len(g.cells))
                r += len(g.cells)
        n_runs.append(r - start)
    run_off = np.zeros(len(sks) + 1, dtype=np.int64)
    run_off[1:] = np.cumsum(n_runs)
    cells = np.concatenate(cells).astype(np.int64) if cells else np.zeros(0, np.int64)
    ks = np.repeat(np.asarray(run_k, dtype=np.int64), np.asarray(run_n, dtype=np.int64))
    uniq = np.unique(cells[cells >= 0])
    width = int(ks.max()) if ks.size else 1
    grid = np.full((cells.size, width), -1, dtype=np.int32)
    if uniq.size:
        table = corpus.sentences.take(uniq, min(width, corpus.sentences.top_k))
        is_cell = cells >= 0
        grid[is_cell, : table.shape[1]] = table[np.searchsorted(uniq, cells[is_cell])]
    for run, ids in explicit.items():
        grid[run, : ids.size] = ids
    mask = (np.arange(width)[None, :] < ks[:, None]) & (grid >= 0)
    rg_off = np.zeros(cells.size + 1, dtype=np.int64)
    rg_off[1:] = np.cumsum(mask.sum(1))
    return rg_off, grid[mask], run_off


def genes_of(corpus: Corpus, sk: Skeleton) -> list[np.ndarray]:
    """Gene ids of each SENT of one skeleton, in order."""
    off, genes, _ = batch_genes(corpus, [sk])
    return [genes[off[i] : off[i + 1]] for i in range(off.size - 1)]


def to_example(corpus: Corpus, task: str, split: str, sk: Skeleton) -> Example:
    """The text example of one skeleton (gene lists filled with gene names)."""
    genes = genes_of(corpus, sk)
    n = sk.prompt.count(SENT)
    names = corpus.sentences.gene_names
    return Example(task, split, fill(sk.prompt, genes[:n], names), fill(sk.target, genes[n:], names),
                   [corpus.cell_id(c) for c in sk.cells], sk.meta)


def render_all(corpus: Corpus, tasks: list[Task], seed: int) -> tuple[list[Example], dict[str, str]]:
    """Text path, for small corpora and tests: (examples, skipped) where skipped maps task
    name -> reason (logged, never raised)."""
    examples: list[Example] = []
    skipped: dict[str, str] = {}
    for task in tqdm(tasks, desc="render tasks", unit="task"):
        reason = task.missing(corpus)
        if reason:
            skipped[task.name] = reason
            log.warning("Skipping task %s: %s.", task.name, reason)
            continue
        for split in SPLITS:
            examples += [to_example(corpus, task.name, split, sk) for sk in skeletons(corpus, task, split, seed)]
    return examples, skipped
