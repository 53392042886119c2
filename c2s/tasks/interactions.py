"""Interaction-knowledge tasks (the preprint's Figure 6B–C): text the model learns alongside cells, from the
corpus's interaction table (c2s.corpus.interactions), each fact in the split of its ligand.

- ``interaction_partners``: "Which receptors does the ligand X bind?" -> its partners in the data.
- ``interaction_yes_no``: "Do X and Y interact?" -> yes / no, balanced: each true pair of the split is asked once,
  and once with its partner swapped for a gene of the same pool (the table's partner genes) that X does not pair
  with. Built with numpy, linear in pairs; seeded by the task's stream.
"""

from __future__ import annotations

import logging
from typing import Iterator

import numpy as np

from c2s.corpus.corpus import Corpus
from c2s.corpus.splits import SPLITS
from c2s.scoring.metric import ACCURACY, OVERLAP
from c2s.tasks.base import EvalSpec, Task
from c2s.tasks.columns import BATCH, Columns, GeneField, coded, const

log = logging.getLogger(__name__)
LIGAND_RECEPTOR = "ligand-receptor"
MAX_DRAWS = 64  # rejection rounds for a negative partner; a gene that pairs with the whole pool gets none


def _no_cells(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)


def _one_gene(ids: np.ndarray) -> GeneField:
    return GeneField(np.arange(ids.size + 1, dtype=np.int64), ids.astype(np.int64), explicit=True)


class _Interaction(Task):
    kind = "interaction"
    requires = ("interactions",)

    def _split_pairs(self, corpus: Corpus, split: str) -> tuple[np.ndarray, np.ndarray]:
        inter = corpus.interactions
        at = inter.split == SPLITS.index(split)
        return inter.pairs[at].astype(np.int64), inter.types[at]


class InteractionPartners(_Interaction):
    name = "interaction_partners"
    metric = OVERLAP
    evaluation = EvalSpec(unique_genes=True)
    target_field = "partners"
    templates = (
        "Which {partner_role} does the {role} {gene} bind?",
        "List the {partner_role} of the {organism} {role} {gene}.",
        "The {role} {gene} binds these {partner_role}:",
        "Give the known {partner_role} that interact with the {role} {gene}, space-separated.",
        "Interaction partners ({partner_role}) of the {role} {gene}:",
    )

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        """One record per ligand of the split (``repeats`` times: the paraphrases vary), its partners in gene-id
        order (the table's pairs are sorted)."""
        pairs, types = self._split_pairs(corpus, split)
        if not pairs.size:
            return
        genes, first = np.unique(pairs[:, 0], return_index=True)
        off = np.r_[first, pairs.shape[0]].astype(np.int64)
        lr = np.array([bool(np.all(types[a:b] == LIGAND_RECEPTOR)) for a, b in zip(off[:-1], off[1:])])
        reps = self.opt.repeats
        for b in range(0, genes.size, max(1, BATCH // reps)):
            q = np.arange(b, min(b + max(1, BATCH // reps), genes.size)).repeat(reps)
            counts = (off[q + 1] - off[q]).astype(np.int64)
            p_off = np.r_[0, np.cumsum(counts)].astype(np.int64)
            take = np.repeat(off[q] - p_off[:-1], counts) + np.arange(int(counts.sum()))
            kind = (~lr[q]).astype(np.int64)  # 0: ligand-receptor, 1: another kind of interaction
            yield Columns(
                q.size,
                _no_cells(q.size),
                {
                    "role": coded(np.array(["ligand", "protein"], dtype=object), kind),
                    "partner_role": coded(np.array(["receptors", "interaction partners"], dtype=object), kind),
                    "organism": const(corpus.organism, q.size),
                },
                {
                    "gene": _one_gene(genes[q]),
                    "partners": GeneField(p_off, pairs[take, 1], explicit=True),
                },
            )


class InteractionYesNo(_Interaction):
    name = "interaction_yes_no"
    metric = ACCURACY
    target_field = "answer"
    templates = (
        "Do {gene_a} and {gene_b} interact? Answer yes or no.",
        "Is there a known interaction between {gene_a} and {gene_b}?",
        "Gene pair: {gene_a} {gene_b}\nDo these two interact?",
        "Can {gene_a} bind {gene_b}? yes or no.",
        "Interaction check, {organism}: {gene_a} with {gene_b}?",
    )

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        pairs, _ = self._split_pairs(corpus, split)
        if not pairs.size:
            return
        every = corpus.interactions.pairs.astype(np.int64)
        g = np.int64(len(corpus.sentences.gene_names))
        known = np.sort(every[:, 0] * g + every[:, 1])
        pool = np.unique(every[:, 1])
        neg = np.full(pairs.shape[0], -1, dtype=np.int64)
        todo = np.arange(pairs.shape[0])
        for _ in range(MAX_DRAWS):  # redraw only the rejected
            if not todo.size:
                break
            draw = pool[rng.integers(pool.size, size=todo.size)]
            key = pairs[todo, 0] * g + draw
            at = np.searchsorted(known, key).clip(max=known.size - 1)
            ok = (known[at] != key) & (draw != pairs[todo, 0])
            neg[todo[ok]] = draw[ok]
            todo = todo[~ok]
        if todo.size:
            log.warning(
                "interaction_yes_no (%s): %d gene(s) pair with every gene of the pool; their %d true pair(s) are "
                "left out to keep yes and no balanced.",
                split,
                np.unique(pairs[todo, 0]).size,
                todo.size,
            )
        keep = neg >= 0
        a = np.r_[pairs[keep, 0], pairs[keep, 0]]
        b = np.r_[pairs[keep, 1], neg[keep]]
        answer = np.r_[np.ones(keep.sum(), np.int64), np.zeros(keep.sum(), np.int64)]
        order = rng.permutation(a.size)
        for s in range(0, a.size, BATCH):
            o = order[s : s + BATCH]
            yield Columns(
                o.size,
                _no_cells(o.size),
                {
                    "answer": coded(np.array(["no", "yes"], dtype=object), answer[o]),
                    "organism": const(corpus.organism, o.size),
                },
                {"gene_a": _one_gene(a[o]), "gene_b": _one_gene(b[o])},
            )
