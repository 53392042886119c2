"""Columns -> skeleton batches: each record's template filled with its text fields, with a
sentinel character where each gene list goes. Distinct skeletons are formatted once per batch
(examples point at them by index). The text path (``examples``, ``render_all``) fills the
sentinels with gene names; the token path (c2s.data.assemble) with gene token ids.

Convention: every gene list in a rendered text follows a space (templates put a space before each
gene field; targets are tokenized with a leading space), so one gene is one token " GENE". The one
exception is c2s_scale's multi-cell layout (``Cell j:`` then a newline, as the released models read it):
the token path tokenizes those examples' text instead (c2s.data.assemble).
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator

import numpy as np
from tqdm.auto import tqdm

from c2s.corpus.corpus import Corpus
from c2s.corpus.splits import SPLITS
from c2s.tasks.base import Task
from c2s.tasks.columns import Columns, GeneField
from c2s.tasks.formats import CELL_LINES, organism_name
from c2s.tasks.template_rows import format_rows, template_fields

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


@dataclass(frozen=True)
class SkeletonBatch:
    """``n`` examples. Example i: prompt ``prompts[p_idx[i]]``, target ``targets[t_idx[i]]``,
    meta ``metas[m_idx[i]]`` (sorted-key JSON); its gene runs (one per SENT, prompt first) are
    ``run_off[i]:run_off[i + 1]``: the first ``run_k`` genes of cell ``run_cell`` or, where
    ``run_cell`` is -1, the ids ``explicit[run]``; its cells shown are ``cells`` (ragged)."""

    n: int
    prompts: list[str]
    p_idx: np.ndarray
    targets: list[str]
    t_idx: np.ndarray
    metas: list[str]
    m_idx: np.ndarray
    run_off: np.ndarray
    run_cell: np.ndarray
    run_k: np.ndarray
    explicit: dict[int, np.ndarray]
    cells: tuple[np.ndarray, np.ndarray]


def task_rng(seed: int, task: str, split: str) -> np.random.Generator:
    """Independent stream per (seed, task, split): adding a task never changes another's examples."""
    return np.random.default_rng([seed, zlib.crc32(task.encode()), SPLITS.index(split)])


@lru_cache(maxsize=256)
def numbered(n_cells: int, prompt_format: str = "c2s") -> str:
    """The skeleton of a numbered gene field: ``Cell j: SENT`` per line (c2s), or the format's layout."""
    line, sep = CELL_LINES.get(prompt_format, CELL_LINES["c2s"])
    return sep.join(line.format(j=j + 1, s=SENT) for j in range(n_cells))


def _distinct(keys: list[np.ndarray], m: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows in sorted order, inverse) of the non-negative int columns ``keys`` over m
    examples. Rows are packed into one int64 (mixed radix) where they fit: np.unique(axis=0)
    sorts void records, 20x slower."""
    if not keys:
        return np.zeros((1, 0), dtype=np.int64), np.zeros(m, dtype=np.int64)
    radix = [int(k.max()) + 1 if k.size else 1 for k in keys]
    if np.prod(np.array(radix, dtype=float)) >= 2.0**62:
        rows, inv = np.unique(np.stack(keys, 1), axis=0, return_inverse=True)
        return rows, inv.reshape(-1)
    packed = np.zeros(m, dtype=np.int64)
    for k, r in zip(keys, radix):
        packed = packed * r + k
    uniq, inv = np.unique(packed, return_inverse=True)
    rows = np.empty((uniq.size, len(keys)), dtype=np.int64)
    for j in range(len(keys) - 1, -1, -1):
        uniq, rows[:, j] = np.divmod(uniq, radix[j])
    return rows, inv.reshape(-1)


def _fill_texts(
    cols: Columns,
    fmt: str,
    fields: tuple[str, ...],
    sel: np.ndarray,
    out: list[str],
    idx: np.ndarray,
    task: Task,
    suffix: str = "",
) -> None:
    """Format ``fmt`` once per distinct combination of its fields over examples ``sel``."""
    lines = [f for f in fields if f in cols.genes and cols.genes[f].numbered]
    keys = [cols.text[f][0][sel] for f in fields if f in cols.text] + [cols.genes[f].counts()[sel] for f in lines]
    rows, inv = _distinct(keys, sel.size)
    text_fields = [f for f in fields if f in cols.text]
    n, pf = rows.shape[0], task.opt.prompt_format
    # each field's categories (organism names mapped once per category, not per row), then gathered per row
    values = {f: SENT for f in fields}  # an un-numbered gene field
    values |= {f: cols.text[f][1] for f in text_fields}
    if "organism" in values and pf != "c2s":
        o = values["organism"]
        mapped = [organism_name(x, pf) for x in o] if "organism" in cols.text else None
        values["organism"] = organism_name(o, pf) if mapped is None else np.array(mapped, dtype=object)
    columns = {f: np.asarray(values[f], dtype=object)[rows[:, j]] for j, f in enumerate(text_fields)}
    for j, f in enumerate(lines):
        counts, back = np.unique(rows[:, len(text_fields) + j], return_inverse=True)
        columns[f] = np.array([numbered(int(c), pf) for c in counts], dtype=object)[back.reshape(-1)]
    columns |= {f: [v] * n for f, v in values.items() if f not in columns}
    out += format_rows(fmt, columns, n, suffix)
    idx[sel] = len(out) - n + inv


def _runs(cols: Columns, order: list[list[str]], choice: np.ndarray) -> tuple[np.ndarray, ...]:
    """Gene runs of every example: its gene fields in ``order[choice[i]]``, each expanded to one
    run per cell (or one run of explicit ids). Returns run_off, run_cell, run_k, run_ref and
    the explicit fields' ids concatenated, which run_ref indexes (-1 for cell runs)."""
    names = sorted({f for fs in order for f in fs})
    seg_e, seg_p, seg_f = [], [], []
    for t, fs in enumerate(order):
        sel = np.flatnonzero(choice == t)
        for p, f in enumerate(fs):
            seg_e.append(sel)
            seg_p.append(np.full(sel.size, p))
            seg_f.append(np.full(sel.size, names.index(f)))
    if not seg_e:
        n = choice.size
        return np.zeros(n + 1, np.int64), *(np.zeros(0, np.int64) for _ in range(4))
    e, p, f = (np.concatenate(x).astype(np.int64) for x in (seg_e, seg_p, seg_f))
    o = np.lexsort((p, e))
    e, f = e[o], f[o]
    # per field, its runs as one table: cells (one run each) or one run per example (explicit ids)
    base, cell_t, k_t, ref_t, ids = 0, [], [], [], [np.zeros(0, np.int64)]
    start_t, len_t = np.zeros(e.size, np.int64), np.zeros(e.size, np.int64)
    for j, name in enumerate(names):
        g: GeneField = cols.genes[name]
        if g.explicit:
            counts = g.counts()
            cell_t.append(np.full(cols.n, -1))
            k_t.append(counts)
            ref_t.append(sum(x.size for x in ids) + g.off[:-1])
            ids.append(g.flat)
            starts, lens = np.arange(cols.n), np.ones(cols.n, np.int64)
        else:
            cell_t.append(g.flat)
            k_t.append(np.full(g.flat.size, g.k))
            ref_t.append(np.full(g.flat.size, -1))
            starts, lens = g.off[:-1], g.counts()
        at = f == j
        start_t[at], len_t[at] = base + starts[e[at]], lens[e[at]]
        base += cell_t[-1].size
    cell_t, k_t, ref_t = (np.concatenate(x).astype(np.int64) for x in (cell_t, k_t, ref_t))
    total = int(len_t.sum())
    take = np.repeat(start_t - (np.cumsum(len_t) - len_t), len_t) + np.arange(total)
    run_off = np.zeros(choice.size + 1, dtype=np.int64)
    run_off[1:] = np.cumsum(np.bincount(e, weights=len_t, minlength=choice.size)).astype(np.int64)
    return run_off, cell_t[take], k_t[take], ref_t[take], np.concatenate(ids)


def skeleton_batch(task: Task, cols: Columns, rng: np.random.Generator) -> SkeletonBatch:
    """Pick a paraphrase per record with ``rng`` and fill it, gene lists as SENT."""
    n = cols.n
    choice = rng.integers(len(task.templates), size=n)
    prompts: list[str] = []
    p_idx = np.zeros(n, dtype=np.int64)
    order = []
    for t, tpl in enumerate(task.templates):
        fields = template_fields(tpl)
        order.append([f for f in fields if f in cols.genes])
        sel = np.flatnonzero(choice == t)
        if sel.size:
            _fill_texts(cols, tpl, fields, sel, prompts, p_idx, task)
    tf = task.target_field
    targets: list[str] = []
    t_idx = np.zeros(n, dtype=np.int64)
    _fill_texts(cols, "{" + tf + "}", (tf,), np.arange(n), targets, t_idx, task, task.target_suffix)
    if tf in cols.genes:
        order = [o + [tf] for o in order]
    run_off, run_cell, run_k, ref, ids = _runs(cols, order, choice)
    explicit = {r: ids[ref[r] : ref[r] + run_k[r]] for r in np.flatnonzero(ref >= 0).tolist()}
    meta_f = [f for f in META_KEYS if f in cols.text]
    rows, m_idx = _distinct([cols.text[f][0] for f in meta_f], n)
    metas = [json.dumps({f: str(cols.text[f][1][r[j]]) for j, f in enumerate(meta_f)}, sort_keys=True) for r in rows]
    return SkeletonBatch(
        n, prompts, p_idx, targets, t_idx, metas, m_idx, run_off, run_cell, run_k, explicit, cols.cells
    )


def batches(corpus: Corpus, task: Task, split: str, seed: int) -> Iterator[SkeletonBatch]:
    """Every skeleton of ``task`` on ``split``, in batches; deterministic for ``seed``."""
    rng = task_rng(seed, task.name, split)
    for cols in task.columns(corpus, split, rng):
        if cols.n:
            yield skeleton_batch(task, cols, rng)


def batch_genes(corpus: Corpus, b: SkeletonBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gene ids of every run of a batch, ragged: (run offsets, gene ids, per-example run
    offsets). Cells are read from the store in one sorted gather; explicit runs keep their non-negative ids."""
    cells, ks = b.run_cell, b.run_k
    is_cell = cells >= 0
    c_off, c_flat = corpus.sentences.prefixes(cells[is_cell], ks[is_cell])
    if not b.explicit:
        return c_off, c_flat, b.run_off
    runs = sorted(b.explicit)
    e_ids = [b.explicit[r][b.explicit[r] >= 0] for r in runs]
    counts = np.zeros(cells.size, dtype=np.int64)
    counts[is_cell] = np.diff(c_off)
    counts[runs] = [x.size for x in e_ids]
    rg_off = np.zeros(cells.size + 1, dtype=np.int64)
    np.cumsum(counts, out=rg_off[1:])
    rg = np.empty(int(rg_off[-1]), dtype=np.int32)
    rg[_positions_of(rg_off[:-1][is_cell], np.diff(c_off))] = c_flat
    e_off = np.zeros(len(runs) + 1, dtype=np.int64)
    np.cumsum([x.size for x in e_ids], out=e_off[1:])
    rg[_positions_of(rg_off[runs], np.diff(e_off))] = np.concatenate(e_ids) if e_ids else np.zeros(0, np.int32)
    return rg_off, rg, b.run_off


def _positions_of(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Destinations of ragged items: ``starts[i] + j`` for j < counts[i], concatenated."""
    total = int(counts.sum())
    return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)


def fill(text: str, genes: list[np.ndarray], names: np.ndarray) -> str:
    """Replace each SENT in ``text`` by its gene names (space-joined), in order."""
    parts = text.split(SENT)
    out = [parts[0]]
    for ids, rest in zip(genes, parts[1:]):
        out += [" ".join(names[ids]), rest]
    return "".join(out)


def examples(corpus: Corpus, task: str, split: str, b: SkeletonBatch, which: list[int] | None = None) -> list[Example]:
    """Text examples of a batch (all, or the indices ``which``): gene lists as gene names."""
    rg_off, rg, run_off = batch_genes(corpus, b)
    names, (c_off, c_flat) = corpus.sentences.gene_names, b.cells
    out = []
    for i in range(b.n) if which is None else which:
        prompt, target = b.prompts[b.p_idx[i]], b.targets[b.t_idx[i]]
        genes = [rg[rg_off[r] : rg_off[r + 1]] for r in range(run_off[i], run_off[i + 1])]
        k = prompt.count(SENT)
        out.append(
            Example(
                task,
                split,
                fill(prompt, genes[:k], names),
                fill(target, genes[k:], names),
                [corpus.cell_id(c) for c in c_flat[c_off[i] : c_off[i + 1]]],
                json.loads(b.metas[b.m_idx[i]]),
            )
        )
    return out


def render_all(corpus: Corpus, tasks: list[Task], seed: int) -> tuple[list[Example], dict[str, str]]:
    """Text path, for small corpora and tests: (examples, skipped) where skipped maps task
    name -> reason (logged, never raised)."""
    out: list[Example] = []
    skipped: dict[str, str] = {}
    for task in tqdm(tasks, desc="render tasks", unit="task"):
        reason = task.missing(corpus)
        if reason:
            skipped[task.name] = reason
            log.warning("Skipping task %s: %s.", task.name, reason)
            continue
        for split in SPLITS:
            for b in batches(corpus, task, split, seed):
                out += examples(corpus, task.name, split, b)
    return out, skipped
