"""Perturbation response: a control cell plus a perturbation name -> the perturbed cell.

Pairs: each perturbed cell of a split is matched to a control cell with the same values of
the match keys (default: cell type), drawn uniformly (seeded) from all control cells
(controls of held-out cell types stay visible, as in scGen's setting).

Two training-pair options (ablations: experiments/README.md, Kang; off by default). Val and test always
draw uniformly, so the evaluation protocol and its baselines do not change with them.
- ``tasks.options.train_pair_candidates = m > 1``: each perturbed training cell draws m controls and is
  paired with the one whose sentence shares the most genes with its own (the first drawn on ties): a
  closer pair rewards copying the control more. Cost: m controls' sentences per perturbed cell (linear).
- ``tasks.options.train_identity_pairs``: the train split also pairs each control cell with itself under
  the control condition (no perturbation: the same cell), i.e. explicit copy supervision from cells the
  protocol shows anyway.
"""

from __future__ import annotations

import logging
from typing import Iterator, Sequence

import numpy as np

from c2s.config.tasks import TaskOptionsConfig
from c2s.corpus.corpus import Corpus
from c2s.scoring.metric import KENDALL_TAU
from c2s.tasks.base import EvalSpec, Task
from c2s.tasks.columns import BATCH, Columns, cells_field, coded, const, fixed

log = logging.getLogger(__name__)


class PerturbationResponse(Task):
    name = "perturbation_response"
    kind = "downstream"
    metric = KENDALL_TAU
    evaluation = EvalSpec(unique_genes=True)
    target_field = "perturbed"
    requires = ("condition", "control_value")
    templates = (
        "Control {organism} cell: {control}\nPredict this cell after perturbation with {perturbation}.",
        "Here is an unperturbed cell sentence: {control}\nGenerate the same cell under {perturbation}.",
        "Perturbation: {perturbation}. Control cell: {control}\nPerturbed cell sentence:",
        "A {cell_type} cell before treatment: {control}\nHow does it look after {perturbation}? Give its cell sentence.",  # noqa: E501
        "Given the control cell {control}\npredict its top {n_genes} genes after {perturbation}.",
    )

    def __init__(self, options: TaskOptionsConfig | None = None, match_keys: Sequence[str] = ("cell_type",)) -> None:
        super().__init__(options)
        self.match_keys = tuple(match_keys)

    @classmethod
    def from_config(cls, options: TaskOptionsConfig | None, match_keys: Sequence[str] | None = None) -> Task:
        return cls(options) if match_keys is None else cls(options, match_keys=match_keys)

    def missing(self, corpus: Corpus) -> str | None:
        reason = super().missing(corpus)
        if reason:
            return reason
        absent = [k for k in self.match_keys if not corpus.has(k)]
        if absent:
            return f"match keys {absent} are not mapped"
        cats = [str(c) for c in corpus.roles["condition"][0]]
        if str(corpus.control_value) not in cats:
            return (
                f"data.control_value={corpus.control_value!r} is not a value of the condition column "
                f"(values: {cats[:8]}{' …' if len(cats) > 8 else ''}), so no cell is a control"
            )
        return None

    def columns(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[Columns]:
        """Controls sorted by match key once; each perturbed cell draws one in O(1)."""
        cats, cond = corpus.roles["condition"]
        hit = np.flatnonzero(cats == str(corpus.control_value))
        is_control = np.asarray(cond) == (hit[0] if hit.size else -1)
        key = np.zeros(len(corpus.sentences), dtype=np.int64)
        for r in self.match_keys:  # mixed-radix code of the match-key values
            rcats, rcodes = corpus.roles[r]
            key = key * rcats.size + np.asarray(rcodes)
        controls = np.flatnonzero(is_control)
        controls = controls[np.argsort(key[controls], kind="stable")]
        ckeys = key[controls]
        cells = corpus.cells(split)
        cells = cells[~is_control[cells]]
        lo, hi = np.searchsorted(ckeys, key[cells], "left"), np.searchsorted(ckeys, key[cells], "right")
        cells, lo, n = cells[hi > lo], lo[hi > lo], (hi - lo)[hi > lo]
        k = self.opt.genes_per_cell
        m = self.opt.train_pair_candidates if split == "train" else 1
        if m == 1:
            draw = controls[lo + (rng.random(cells.size) * n).astype(np.int64)]
        else:  # (cells, m) candidates, drawn up front; the closest is picked per batch, as it is yielded
            draw = controls[lo[:, None] + (rng.random((cells.size, m)) * n[:, None]).astype(np.int64)]
        for b in range(0, cells.size, BATCH):
            i, c = cells[b : b + BATCH], draw[b : b + BATCH]
            yield self._batch(corpus, i, c if m == 1 else closest(corpus, i, c, k))
        if split == "train" and self.opt.train_identity_pairs:  # each control cell as its own "perturbed" cell
            own = corpus.cells(split)
            own = own[is_control[own]]
            log.info("perturbation_response: %d identity pairs (a control cell with itself) added to train.", own.size)
            for b in range(0, own.size, BATCH):
                yield self._batch(corpus, own[b : b + BATCH], own[b : b + BATCH])

    def _batch(self, corpus: Corpus, i: np.ndarray, c: np.ndarray) -> Columns:
        """Records of perturbed cells ``i`` and their controls ``c`` (int64 (n,) corpus positions)."""
        cats, cond = corpus.roles["condition"]
        k = self.opt.genes_per_cell
        text = {
            "perturbation": coded(cats, np.asarray(cond)[i]),
            "organism": const(corpus.organism, i.size),
            "n_genes": const(k, i.size),
            "cell_type": const("", i.size),
        }
        if corpus.has("cell_type"):
            ct_cats, ct_codes = corpus.roles["cell_type"]
            text["cell_type"] = coded(ct_cats, np.asarray(ct_codes)[i])
        return Columns(
            i.size,
            fixed(np.stack([c, i], 1)),
            text,
            {"control": cells_field(c[:, None], k), "perturbed": cells_field(i[:, None], k)},
        )


def closest(corpus: Corpus, cells: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """For each of ``cells`` (n,), the candidate of ``candidates`` (n, m) whose first ``k`` genes share
    the most genes with the cell's first ``k`` (the first candidate on ties). Returns (n,) positions."""
    n, m = candidates.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    n_genes = len(corpus.sentences.gene_names) + 1
    own = corpus.sentences.take(cells, k).astype(np.int64) + 1  # 0: past a cell's length
    cand = corpus.sentences.take(candidates.reshape(-1), k).astype(np.int64).reshape(n, m, k) + 1
    own_keys = np.where(own > 0, np.arange(n)[:, None] * n_genes + own, -1)
    cand_keys = np.arange(n)[:, None, None] * n_genes + cand
    shared = (np.isin(cand_keys, own_keys) & (cand > 0)).sum(2)  # (n, m)
    return candidates[np.arange(n), shared.argmax(1)]
