"""Gene-set tasks of Table 1: enumerate the genes of a named set; name a set from its genes."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from c2s.corpus.corpus import Corpus
from c2s.scoring.metric import ACCURACY, OVERLAP
from c2s.tasks.base import EvalSpec, Task
from c2s.tasks.columns import Columns, GeneField, chunks, coded, const, encode, ragged


class _PerGeneSet(Task):
    kind = "gene_set"
    requires = ("gene_sets",)

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        """Each of the split's sets (sorted by name) ``repeats`` times, a fresh shuffle of its genes each time."""
        pos = {str(g): i for i, g in enumerate(corpus.sentences.gene_names)}
        names = [name for name in sorted(corpus.gene_sets) if corpus.gene_set_split.get(name) == split]
        if not names or self.opt.repeats < 1:
            return
        sets = [np.array([pos[g] for g in corpus.gene_sets[name]], dtype=np.int64) for name in names]
        r = self.opt.repeats
        each = [ids for ids in sets for _ in range(r)]  # example order: a set's repeats together
        shuffled = [rng.permutation(ids) for ids in each]  # one draw per example, in order (the seeded stream)
        n = len(each)
        which = np.repeat(np.arange(len(names)), r)
        text = {
            "set_name": coded(np.array(names, dtype=object), which),
            "n_genes": encode(np.array([len(ids) for ids in sets])[which]),
            "organism": const(corpus.organism, n),
        }
        genes = {
            "genes": GeneField(*ragged(each), explicit=True),
            "shuffled": GeneField(*ragged(shuffled), explicit=True),
        }
        yield from chunks(Columns(n, (np.zeros(n + 1, np.int64), np.zeros(0, np.int64)), text, genes))


class GeneSetEnumeration(_PerGeneSet):
    name = "gene_set_enumeration"
    metric = OVERLAP
    evaluation = EvalSpec(unique_genes=True)
    target_field = "genes"
    templates = (
        'List the genes of the gene set "{set_name}".',
        "Which {n_genes} genes make up {set_name}?",
        "Enumerate the members of the {organism} gene set {set_name}.",
        "Gene set: {set_name}. Give its genes, space-separated.",
        'Name the {n_genes} genes in "{set_name}".',
    )


class GeneSetNaming(_PerGeneSet):
    name = "gene_set_naming"
    metric = ACCURACY
    target_field = "set_name"
    templates = (
        "What gene set do these genes form? {shuffled}",
        "Name the gene set containing: {shuffled}",
        "These {n_genes} {organism} genes belong to one set: {shuffled}\nWhich set is it?",
        "Genes: {shuffled}\nGive the name of this gene set.",
        "Identify the gene program made of {shuffled}",
    )
