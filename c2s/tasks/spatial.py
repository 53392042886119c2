"""Spatial neighbourhood tasks from ``obsm['spatial']``: niche label, neighbour generation,
and which candidates are neighbours. Neighbours are the k nearest cells of the same split and
the same section (``sample`` or ``batch``: separate coordinate frames); cells of a section too
small for a full neighbourhood are skipped.
Niche labels come from data.niche_key, else "<majority cell type>-rich niche" of the
neighbourhood (centre included)."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from c2s.data.corpus import Corpus
from c2s.data.plan_meta import spatial_neighbours
from c2s.tasks.base import Genes, Task, multi_sentences

BLOCK = 16_384  # cells per vectorised block (bounds the per-block arrays)


class _Spatial(Task):
    kind = "downstream"
    requires = ("spatial",)

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        cells = corpus.cells(split)
        if cells.size < self.opt.neighbours + 2:
            return
        neigh = corpus.neighbours.get(split)
        if neigh is None or neigh.shape[1] != min(self.opt.neighbours, cells.size - 1):
            neigh = spatial_neighbours(corpus, split, self.opt.neighbours)
        k = self.opt.multi_genes_per_cell
        for b in range(0, cells.size, BLOCK):
            block, nb = cells[b : b + BLOCK], np.asarray(neigh[b : b + BLOCK], dtype=np.int64)
            both = np.concatenate([block[:, None], nb], axis=1)  # centre, then its neighbours
            extra = self.prepare_block(corpus, block, nb)
            for row, i in enumerate(block.tolist()):
                if nb.shape[1] and nb[row, 0] < 0:  # its section is too small for k neighbours
                    continue
                rec = {
                    "cells": both[row],
                    "centre": Genes(both[row, :1], k),
                    "neighbours": multi_sentences(nb[row], k),
                    "n_neighbours": nb.shape[1],
                    "organism": corpus.organism,
                }
                yield self.complete(rec, row, i, nb[row], cells, extra, rng)

    def prepare_block(self, corpus: Corpus, block: np.ndarray, neigh: np.ndarray) -> Any:
        return None

    def complete(self, rec, row, i, neigh, cells, extra, rng) -> dict[str, Any]:
        return rec


class SpatialNicheLabel(_Spatial):
    name = "spatial_niche"
    metric = "accuracy"
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

    def prepare_block(self, corpus, block, neigh):
        """Niche label per cell of the block: data.niche_key, else the majority cell type of
        the neighbourhood (centre included; ties: alphabetically first)."""
        if corpus.has("niche"):
            return corpus.labels("niche", block)
        cats, codes = corpus.roles["cell_type"]
        types = np.asarray(codes)[np.c_[block, neigh]]
        counts = np.zeros((block.size, cats.size), dtype=np.int32)
        np.add.at(counts, (np.repeat(np.arange(block.size), types.shape[1]), types.ravel()), 1)
        return np.char.add(cats[counts.argmax(1)].astype(str), "-rich niche").astype(object)

    def complete(self, rec, row, i, neigh, cells, extra, rng):
        rec["niche"] = extra[row]
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

    def complete(self, rec, row, i, neigh, cells, extra, rng):
        rec["neighbour"] = Genes(neigh[:1], self.opt.multi_genes_per_cell)
        return rec

    def target(self, record: dict[str, Any]) -> Genes:
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

    def complete(self, rec, row, i, neigh, cells, extra, rng):
        """Two nearest neighbours plus two distinct far cells of the split, drawn by rejection
        (expected O(1) draws: at most k + 1 of the split's cells are excluded)."""
        near = neigh[:2].tolist()
        taken, far = {i, *neigh.tolist()}, []
        while len(far) < 2 and len(taken) < cells.size:
            c = int(cells[rng.integers(cells.size)])
            if c not in taken:
                taken.add(c)
                far.append(c)
        cand = np.array(near + far)[rng.permutation(len(near) + len(far))]
        rec["cells"] = np.concatenate([rec["cells"][:1], cand])
        rec["candidates"] = multi_sentences(cand, self.opt.multi_genes_per_cell)
        rec["answer"] = ", ".join(f"Cell {j + 1}" for j in range(cand.size) if cand[j] in near)
        return rec

    def target(self, record: dict[str, Any]) -> str:
        return record["answer"]
