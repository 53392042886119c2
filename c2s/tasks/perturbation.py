"""Perturbation response: a control cell plus a perturbation name -> the perturbed cell.

Pairs: each perturbed cell of a split is matched to a control cell with the same values of
the match keys (default: cell type), drawn with the seeded rng from all control cells
(controls of held-out cell types stay visible, as in scGen's setting).
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from c2s.data.corpus import Corpus
from c2s.tasks.base import Task, TaskOptions


class PerturbationResponse(Task):
    name = "perturbation_response"
    kind = "downstream"
    metric = "kendall_tau"
    requires = ("condition", "control_value")
    templates = (
        "Control {organism} cell: {control}\nPredict this cell after perturbation with {perturbation}.",
        "Here is an unperturbed cell sentence: {control}\nGenerate the same cell under {perturbation}.",
        "Perturbation: {perturbation}. Control cell: {control}\nPerturbed cell sentence:",
        "A {cell_type} cell before treatment: {control}\nHow does it look after {perturbation}? Give its cell sentence.",
        "Given the control cell {control}\npredict its top {n_genes} genes after {perturbation}.",
    )

    def __init__(self, options: TaskOptions | None = None, match_keys: Sequence[str] = ("cell_type",)) -> None:
        super().__init__(options)
        self.match_keys = tuple(match_keys)

    def missing(self, corpus: Corpus) -> str | None:
        reason = super().missing(corpus)
        if reason:
            return reason
        absent = [k for k in self.match_keys if not corpus.has(k)]
        return f"match keys {absent} are not mapped" if absent else None

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        obs = corpus.obs
        is_control = obs["condition"].to_numpy() == str(corpus.control_value)
        keys = [tuple(r) for r in obs[list(self.match_keys)].to_numpy()] if self.match_keys else [()] * len(obs)
        controls: dict[tuple, list[int]] = {}
        for i in np.flatnonzero(is_control):
            controls.setdefault(keys[i], []).append(int(i))
        k = self.opt.genes_per_cell
        for i in corpus.cells(split):
            pool = controls.get(keys[i])
            if is_control[i] or not pool:
                continue
            c = pool[int(rng.integers(len(pool)))]
            yield {
                "cell_ids": [obs.index[c], obs.index[i]],
                "control": corpus.sentences.sentence(c, k),
                "perturbed": corpus.sentences.sentence(i, k),
                "perturbation": obs["condition"].iloc[i],
                "cell_type": obs["cell_type"].iloc[i] if "cell_type" in obs else "",
                "organism": corpus.organism,
                "n_genes": k,
            }

    def target(self, record: dict[str, Any]) -> str:
        return record["perturbed"]
