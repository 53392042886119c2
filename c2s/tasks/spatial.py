"""Spatial neighbourhood tasks from ``obsm['spatial']``: niche label, neighbour generation,
and which candidates are neighbours. Neighbours are the k nearest cells of the same split and
the same section (``sample`` or ``batch``: separate coordinate frames); cells of a section too
small for a full neighbourhood are skipped.
Niche labels come from data.niche_key, else "<majority cell type>-rich niche" of the
neighbourhood (centre included)."""

from __future__ import annotations

from typing import ClassVar, Iterator

import numpy as np

from c2s.corpus.corpus import Corpus
from c2s.scoring.metric import ACCURACY, OVERLAP
from c2s.tasks.base import Task
from c2s.tasks.columns import BATCH, Columns, cells_field, coded, const, fixed
from c2s.tasks.interaction_context import PREFIX, context_text, pair_budget


class _Spatial(Task):
    kind = "downstream"
    requires = ("spatial",)
    context_of: ClassVar[str | None] = None  # the gene field whose cells the interaction context pairs the centre with

    def __init__(self, options=None) -> None:
        super().__init__(options)
        if self.uses_interactions():
            self.templates = tuple(PREFIX + t for t in self.templates)

    def uses_interactions(self) -> bool:
        return bool(self.opt.interaction_context and self.context_of)

    def missing(self, corpus: Corpus) -> str | None:
        reason = super().missing(corpus)
        if reason is None and self.uses_interactions() and not (corpus.interactions and len(corpus.interactions)):
            return "interaction_context is on, but no interaction pair has both genes in the data"
        return reason

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        cells = corpus.cells(split)
        if cells.size < self.opt.neighbours + 2:
            return
        neigh = corpus.neighbours.get(split)
        if neigh is None or neigh.shape[1] != min(self.opt.neighbours, cells.size - 1):
            from c2s.corpus.plan_meta import spatial_neighbours  # the plan precomputes them: rarely needed

            neigh = spatial_neighbours(corpus, split, self.opt.neighbours)
        k = self.opt.multi_genes_per_cell
        for b in range(0, cells.size, BATCH):
            block, nb = cells[b : b + BATCH], np.asarray(neigh[b : b + BATCH], dtype=np.int64)
            if nb.shape[1]:  # cells of a section too small for k neighbours are skipped
                keep = nb[:, 0] >= 0
                block, nb = block[keep], nb[keep]
            if not block.size:
                continue
            cols = Columns(
                block.size,
                fixed(np.c_[block, nb]),  # centre, then its neighbours
                {"organism": const(corpus.organism, block.size), "n_neighbours": const(nb.shape[1], block.size)},
                {"centre": cells_field(block[:, None], k), "neighbours": cells_field(nb, k, numbered=True)},
            )
            cols = self.complete(corpus, cols, block, nb, cells, rng)
            if self.uses_interactions():
                others = cols.genes[self.context_of].flat.reshape(cols.n, -1)
                budget = pair_budget(self.opt.max_tokens, 1 + others.shape[1], k)
                centre = cols.genes["centre"].flat
                cols.text["interactions"] = context_text(corpus, centre, others, k, budget)
            yield cols

    def complete(
        self,
        corpus: Corpus,
        cols: Columns,
        block: np.ndarray,
        neigh: np.ndarray,
        cells: np.ndarray,
        rng: np.random.Generator,
    ) -> Columns:
        """The task's own fields for a block of centres ``block`` (m,) with neighbours (m, k)."""
        return cols


class SpatialNicheLabel(_Spatial):
    name = "spatial_niche"
    context_of = "neighbours"
    metric = ACCURACY
    target_field = "niche"
    templates = (
        "A {organism} cell: {centre}\nIts spatial neighbours:\n{neighbours}\nWhat niche is this?",
        "Label the tissue niche of this neighbourhood.\nCentre cell: {centre}\nNeighbours:\n{neighbours}",
        "Centre: {centre}\nNearby cells:\n{neighbours}\nNiche:",
        "Which spatial niche do these neighbouring cells form? Centre: {centre}\n{neighbours}",
        "Classify the microenvironment around the cell {centre}, whose neighbours are:\n{neighbours}",
    )

    def missing(self, corpus: Corpus) -> str | None:
        reason = super().missing(corpus)
        if reason is None and not (corpus.has("niche") or corpus.has("cell_type")):
            return "no niche or cell_type column to label niches"
        return reason

    def complete(self, corpus, cols, block, neigh, cells, rng):
        """Niche label per centre: data.niche_key, else the majority cell type of the
        neighbourhood (centre included; ties: alphabetically first)."""
        if corpus.has("niche"):
            cats, codes = corpus.roles["niche"]
            cols.text["niche"] = coded(cats, np.asarray(codes)[block])
            return cols
        cats, codes = corpus.roles["cell_type"]
        types = np.asarray(codes)[np.c_[block, neigh]]
        flat = np.arange(block.size)[:, None] * cats.size + types  # (centre, type) -> one bin (np.add.at: 10x slower)
        counts = np.bincount(flat.ravel(), minlength=block.size * cats.size).reshape(block.size, cats.size)
        cols.text["niche"] = coded(np.array([f"{c}-rich niche" for c in cats], dtype=object), counts.argmax(1))
        return cols


class SpatialNeighbourGeneration(_Spatial):
    name = "spatial_neighbour_generation"
    metric = OVERLAP
    target_field = "neighbour"
    templates = (
        "Generate a cell that lies next to this {organism} cell in the tissue: {centre}",
        "Cell: {centre}\nWrite the cell sentence of one of its spatial neighbours.",
        "Predict a neighbouring cell of {centre}",
        "Which cell could sit beside this one in space? {centre}\nGive its cell sentence.",
        "Spatial context: centre cell {centre}\nGenerate an adjacent cell.",
    )

    def complete(self, corpus, cols, block, neigh, cells, rng):
        cols.genes["neighbour"] = cells_field(neigh[:, :1], self.opt.multi_genes_per_cell)
        return cols


class SpatialNeighbourIdentification(_Spatial):
    name = "spatial_neighbour_identification"
    context_of = "candidates"
    metric = ACCURACY
    target_field = "answer"
    templates = (
        "Centre cell: {centre}\nCandidates:\n{candidates}\nWhich candidates are its spatial neighbours?",
        "Which of these cells are adjacent to {centre}?\n{candidates}",
        "{candidates}\nAmong the candidates above, list the neighbours of the cell {centre}",
        "Find the spatial neighbours of {centre}\nOptions:\n{candidates}",
        "Cell {centre}\nCandidate cells:\n{candidates}\nAnswer with the numbers of the neighbours.",
    )

    def complete(self, corpus, cols, block, neigh, cells, rng):
        """Two nearest neighbours plus two distinct far cells of the split, drawn by rejection
        (redrawing only the hits: at most k + 2 of the split's cells are excluded per row), in a
        random order; the answer lists the candidates that are neighbours."""
        m, near = block.size, neigh[:, :2]
        taken = np.c_[block, neigh]
        n_far = min(2, cells.size - taken.shape[1])
        far = np.full((m, n_far), -1, dtype=np.int64)
        for j in range(n_far):
            bad = np.ones(m, dtype=bool)
            while bad.any():
                far[bad, j] = cells[rng.integers(cells.size, size=int(bad.sum()))]
                bad = (far[:, j : j + 1] == np.c_[taken, far[:, :j]]).any(1)
        cand = np.c_[near, far]
        order = np.argsort(rng.random(cand.shape), axis=1, kind="stable")
        cand = np.take_along_axis(cand, order, 1)
        is_near = order < near.shape[1]  # position j holds a near cell
        bits = (is_near * (1 << np.arange(cand.shape[1]))).sum(1)
        answers = np.array(
            [", ".join(f"Cell {j + 1}" for j in range(cand.shape[1]) if b >> j & 1) for b in range(1 << cand.shape[1])],
            dtype=object,
        )
        k = self.opt.multi_genes_per_cell
        return Columns(
            m,
            fixed(np.c_[block, cand]),
            cols.text | {"answer": coded(answers, bits)},
            cols.genes | {"candidates": cells_field(cand, k, numbered=True)},
        )
