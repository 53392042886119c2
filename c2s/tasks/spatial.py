"""Spatial neighbourhood tasks from ``obsm['spatial']``: niche label, neighbour generation,
and which candidates are neighbours. Neighbours are the k nearest cells of the same split.
Niche labels come from data.niche_key, else "<majority cell type>-rich niche" of the
neighbourhood (centre included)."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from c2s.data.corpus import Corpus
from c2s.tasks.base import Task, multi_sentences


def _neighbours(corpus: Corpus, cells: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    k = min(k, cells.size - 1)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(corpus.spatial[cells])
    idx = nn.kneighbors(corpus.spatial[cells], return_distance=False)
    return cells[idx[:, 1:]]  # drop self


class _Spatial(Task):
    kind = "downstream"
    requires = ("spatial",)

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        cells = corpus.cells(split)
        if cells.size < self.opt.neighbours + 2:
            return
        neigh = _neighbours(corpus, cells, self.opt.neighbours)
        k = self.opt.multi_genes_per_cell
        for row, i in enumerate(cells):
            rec = {
                "cell_ids": [corpus.obs.index[i]] + [corpus.obs.index[j] for j in neigh[row]],
                "centre": corpus.sentences.sentence(i, k),
                "neighbours": multi_sentences(corpus, neigh[row], k),
                "n_neighbours": neigh.shape[1],
                "organism": corpus.organism,
            }
            yield self.complete(rec, corpus, i, neigh[row], cells, rng)

    def complete(self, rec, corpus, i, neigh, cells, rng) -> dict[str, Any]:
        return rec


class SpatialNicheLabel(_Spatial):
    name = "spatial_niche"
    metric = "accuracy"
    templates = (
        "A {organism} cell: {centre}\nIts spatial neighbours:\n{neighbours}\nWhat niche is this?",
        "Label the tissue niche of this neighbourhood.\nCentre cell: {centre}\nNeighbours:\n{neighbours}",
        "Centre: {centre}\nNearby cells:\n{neighbours}\nNiche:",
        "Which spatial niche do these neighbouring cells form?\n{centre}\n{neighbours}",
        "Classify the microenvironment around the cell {centre}, whose neighbours are:\n{neighbours}",
    )

    def missing(self, corpus: Corpus) -> str | None:
        reason = super().missing(corpus)
        if reason is None and not (corpus.has("niche") or corpus.has("cell_type")):
            return "no niche or cell_type column to label niches"
        return reason

    def complete(self, rec, corpus, i, neigh, cells, rng):
        if corpus.has("niche"):
            rec["niche"] = corpus.obs["niche"].iloc[i]
        else:
            types = corpus.obs["cell_type"].to_numpy()[np.r_[i, neigh]]
            values, counts = np.unique(types, return_counts=True)
            rec["niche"] = f"{values[np.argmax(counts)]}-rich niche"  # ties: alphabetical first
        return rec

    def target(self, record: dict[str, Any]) -> str:
        return record["niche"]


class SpatialNeighbourGeneration(_Spatial):
    name = "spatial_neighbour_generation"
    metric = "overlap"
    templates = (
        "Generate a cell that lies next to this {organism} cell in the tissue: {centre}",
        "Cell: {centre}\nWrite the cell sentence of one of its spatial neighbours.",
        "Predict a neighbouring cell of {centre}",
        "Which cell could sit beside this one in space? {centre}\nGive its cell sentence.",
        "Spatial context: centre cell {centre}\nGenerate an adjacent cell.",
    )

    def complete(self, rec, corpus, i, neigh, cells, rng):
        rec["neighbour"] = corpus.sentences.sentence(int(neigh[0]), self.opt.multi_genes_per_cell)
        return rec

    def target(self, record: dict[str, Any]) -> str:
        return record["neighbour"]


class SpatialNeighbourIdentification(_Spatial):
    name = "spatial_neighbour_identification"
    metric = "accuracy"
    templates = (
        "Centre cell: {centre}\nCandidates:\n{candidates}\nWhich candidates are its spatial neighbours?",
        "Which of these cells are adjacent to {centre}?\n{candidates}",
        "{candidates}\nAmong the candidates above, list the neighbours of the cell {centre}",
        "Find the spatial neighbours of {centre}\nOptions:\n{candidates}",
        "Cell {centre}\nCandidate cells:\n{candidates}\nAnswer with the numbers of the neighbours.",
    )

    def complete(self, rec, corpus, i, neigh, cells, rng):
        near = list(neigh[:2])
        far_pool = np.setdiff1d(cells, np.r_[i, neigh])
        far = list(rng.choice(far_pool, size=min(2, far_pool.size), replace=False))
        cand = np.array(near + far)
        order = rng.permutation(cand.size)
        cand = cand[order]
        rec["candidates"] = multi_sentences(corpus, cand, self.opt.multi_genes_per_cell)
        rec["answer"] = ", ".join(f"Cell {j + 1}" for j in range(cand.size) if cand[j] in near)
        return rec

    def target(self, record: dict[str, Any]) -> str:
        return record["answer"]
