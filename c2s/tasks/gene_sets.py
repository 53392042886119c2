"""Gene-set tasks of Table 1: enumerate the genes of a named set; name a set from its genes."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from c2s.corpus.corpus import Corpus
from c2s.scoring.metric import ACCURACY, OVERLAP
from c2s.tasks.base import EvalSpec, Genes, Task


class _PerGeneSet(Task):
    kind = "gene_set"
    requires = ("gene_sets",)

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        pos = {str(g): i for i, g in enumerate(corpus.sentences.gene_names)}
        for name in sorted(corpus.gene_sets):
            if corpus.gene_set_split.get(name) != split:
                continue
            genes = corpus.gene_sets[name]
            ids = np.array([pos[g] for g in genes])
            for _ in range(self.opt.repeats):
                yield {
                    "cells": np.zeros(0, dtype=np.int64),
                    "set_name": name,
                    "genes": Genes(ids=ids),
                    "shuffled": Genes(ids=rng.permutation(ids)),
                    "n_genes": len(genes),
                    "organism": corpus.organism,
                }


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
