"""Where evaluation examples come from: prepared shards, or an h5ad rendered on the fly.

Both give the Evaluator the same things: the tasks of a split, the rows of a (split, task)
(dicts with task, prompt, target, cell_ids, meta, prompt_ids, target_ids), the gene vocabulary
(for parsing generations) and the inverse fit (for rebuilding expression).

``H5adSource`` is zero-shot evaluation on a new file: only a seeded sample of test examples
(``max_examples`` per task) and of training examples for the baselines (``baseline_examples``)
is rendered, as text, and tokenized with the evaluated model's own tokenizer; no shards are written.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from c2s.config.evaluate import EvaluateConfig
from c2s.data.shards import ShardSet
from c2s.errors import C2SInputError
from c2s.sentences import InverseFit

log = logging.getLogger(__name__)


class ShardSource:
    """Examples of a prepared shard directory."""

    def __init__(self, shards_dir: str | Path) -> None:
        self.path = Path(shards_dir)
        self.shards = ShardSet(self.path)
        self.genes: list[str] = json.loads((self.path / "genes.json").read_text())
        self.fit = InverseFit.load(self.path / "inverse_fit.json")
        self._rows: dict[tuple[str, str], list[dict]] = {}

    @property
    def name(self) -> str:
        return str(self.path)

    def tasks(self, split: str) -> set[str]:
        return set(self.shards.counts(split))

    def rows(self, split: str, task: str) -> list[dict]:
        """Rows of ``task`` in ``split`` (only that task's files are read; kept for reuse)."""
        if (split, task) not in self._rows:
            self._rows[(split, task)] = self.shards.rows(split, tasks={task})
        return self._rows[(split, task)]


def reservoir(items: Iterable, k: int, rng: np.random.Generator) -> list:
    """A uniform sample of ``k`` items of a stream (all if fewer), in stream order: Algorithm R,
    O(n) time and O(k) memory; deterministic for a seeded ``rng``."""
    kept: list[tuple[int, Any]] = []
    for i, item in enumerate(items):
        if i < k:
            kept.append((i, item))
        else:
            j = int(rng.integers(0, i + 1))
            if j < k:
                kept[j] = (i, item)
    return [item for _, item in sorted(kept, key=lambda t: t[0])]


class H5adSource:
    """Zero-shot: examples rendered from ``cfg.data`` in ``cfg.prompt_format`` (``cfg``: an EvaluateConfig).

    Cells are split by the usual seeded split (``test_fraction`` to test, the rest to train, no
    val); test examples are scored and training examples feed the baselines.
    """

    def __init__(self, cfg: EvaluateConfig, tokenizer) -> None:
        from c2s.config.tasks import TaskOptionsConfig
        from c2s.corpus.build import build_corpus
        from c2s.tasks import REGISTRY, build_tasks
        from c2s.tasks.formats import C2S_SCALE, upper_case_genes

        fmt = cfg.prompt_format
        k = cfg.genes_per_cell or (200 if fmt == "c2s_scale" else 100)
        self.data, self.tok, self.seed = cfg.data, tokenizer, cfg.seed
        self.corpus = build_corpus(
            self.data,
            top_k=k,
            seed=cfg.seed,
            val_fraction=0.0,
            test_fraction=cfg.test_fraction,
            upper_case_genes=upper_case_genes(fmt) or cfg.gene_case == "upper",
        )
        if cfg.gene_case == "match_model":
            from c2s.eval.coverage import match_case

            names, n = match_case([str(g) for g in self.corpus.sentences.gene_names], tokenizer)
            self.corpus.sentences.gene_names = np.asarray(names, dtype=object)
            log.info("gene_case=match_model: %d gene names take the model's spelling (case ignored).", n)
        names = cfg.tasks or sorted(C2S_SCALE if fmt == "c2s_scale" else REGISTRY)
        options = TaskOptionsConfig(genes_per_cell=k, prompt_format=fmt)
        self._tasks = {t.name: t for t in build_tasks(names, options)}
        reasons = {n: t.missing(self.corpus) for n, t in self._tasks.items()}
        if cfg.tasks and any(reasons.values()):
            bad = {n: r for n, r in reasons.items() if r}
            raise C2SInputError(
                f"Cannot build {sorted(bad)} from {self.data.path}: "
                + "; ".join(f"{n}: {r}" for n, r in bad.items())
                + "."
            )
        self._tasks = {n: t for n, t in self._tasks.items() if not reasons[n]}
        if not self._tasks:
            raise C2SInputError(
                f"No evaluation task can be built from {self.data.path} in prompt format {fmt!r}: "
                "map the needed obs columns (e.g. data.cell_type_key=<column>)."
            )
        used = self.corpus.sentences.gene_counts > 0
        self.genes = [str(g) for g, u in zip(self.corpus.sentences.gene_names, used) if u]
        self.fit = self.corpus.inverse_fit
        self.sizes = {"test": cfg.max_examples, "train": cfg.baseline_examples}
        self._rows: dict[tuple[str, str], list[dict]] = {}

    @property
    def name(self) -> str:
        return f"{self.data.path} (zero-shot, rendered on the fly)"

    def tasks(self, split: str) -> set[str]:
        return set(self._tasks) if split in self.sizes else set()

    def rows(self, split: str, task: str) -> list[dict]:
        if (split, task) not in self._rows:
            self._rows[(split, task)] = self._render(split, task)
        return self._rows[(split, task)]

    def _render(self, split: str, task: str) -> list[dict]:
        from dataclasses import asdict
        from itertools import groupby

        from c2s.tasks.render import batches, examples, task_rng

        rng = task_rng(self.seed + 1, task, split)  # the sample's stream, apart from the templates'
        items = ((b, i) for b in batches(self.corpus, self._tasks[task], split, self.seed) for i in range(b.n))
        rows = []
        for _, group in groupby(reservoir(items, self.sizes[split], rng), key=lambda item: id(item[0])):
            group = list(group)
            rows += [asdict(e) for e in examples(self.corpus, task, split, group[0][0], [i for _, i in group])]
        for r in rows:  # as a shard row stores it
            r["meta"] = json.dumps(r["meta"], sort_keys=True)
        if rows:  # the shards' convention: targets are tokenized after a space
            p = self.tok([r["prompt"] for r in rows], add_special_tokens=False)["input_ids"]
            t = self.tok([" " + r["target"] for r in rows], add_special_tokens=False)["input_ids"]
            for r, pi, ti in zip(rows, p, t):
                r["prompt_ids"], r["target_ids"] = pi, ti
        log.info("Rendered %d %s examples of %s from %s.", len(rows), split, task, self.data.path)
        return rows
