"""Gene programs for perturbation scoring and the GRPO reward: a configured gene list, or the top
differentially expressed genes between perturbed and control cells of perturbation-response rows; and the
agreement of a predicted with a true cell over the program."""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

from c2s.errors import C2SInputError
from c2s.sentences import InverseFit, reconstruct

log = logging.getLogger(__name__)


def control_genes(prompt: str, vocabulary: set[str]) -> list[str]:
    """The control cell sentence of a perturbation prompt: the longest run of consecutive
    vocabulary words on its first line (template words around it are not genes)."""
    best: list[str] = []
    run: list[str] = []
    for word in prompt.split("\n")[0].split() + [""]:
        if word in vocabulary:
            run.append(word)
            continue
        if len(run) > len(best):
            best = run
        run = []
    return best


def changed_pairs(rows: Sequence[Mapping]) -> list[Mapping]:
    """The rows that pair two different cells. A control cell paired with itself
    (``tasks.options.train_identity_pairs``) shows no change: it would shrink a mean shift and a DE program."""
    kept = [r for r in rows if "cell_ids" not in r or len(set(r["cell_ids"])) > 1]
    if len(kept) < len(rows):
        log.info(
            "%d identity pair(s) (a control cell with itself) left out of %d rows.", len(rows) - len(kept), len(rows)
        )
    return kept


def pair_expression(rows: Sequence[Mapping], fit: InverseFit, genes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(control, perturbed) expression (n_rows, n_genes), rebuilt with ``fit`` from the prompt's
    control sentence and the target's perturbed sentence."""
    vocab = set(genes)
    ctrl = reconstruct([control_genes(r["prompt"], vocab) for r in rows], fit, genes).expression
    pert = reconstruct([r["target"] for r in rows], fit, genes).expression
    return ctrl, pert


def top_de_genes(rows: Sequence[Mapping], fit: InverseFit, genes: Sequence[str], top_n: int) -> list[str]:
    """The ``top_n`` genes with the largest |mean(perturbed) − mean(control)| over ``rows`` that pair two
    different cells (ties: lower gene column first)."""
    if not rows:
        raise C2SInputError(
            "No perturbation_response rows to find differentially expressed genes in: prepare shards "
            "with a condition column (data.condition_key, data.control_value) or set grpo.rewards.gene_program.program."
        )
    return top_changed(*pair_expression(changed_pairs(rows), fit, genes), genes, top_n)


def top_changed(ctrl: np.ndarray, pert: np.ndarray, genes: Sequence[str], top_n: int) -> list[str]:
    """The ``top_n`` genes with the largest |mean(pert) − mean(ctrl)| of (n, n_genes) matrices
    (ties: lower gene column first)."""
    diff = np.abs(pert.mean(0) - ctrl.mean(0))
    order = np.lexsort((np.arange(diff.size), -diff))
    return [genes[j] for j in order[:top_n]]


def program_columns(program: Sequence[str], genes: Sequence[str]) -> np.ndarray:
    """Column indices of ``program`` in ``genes``; unknown names fail, listing some."""
    column = {g: j for j, g in enumerate(genes)}
    missing = [g for g in program if g not in column]
    if missing:
        raise C2SInputError(
            f"Gene program names {len(missing)} gene(s) absent from the shards' genes "
            f"(e.g. {missing[:5]}); use symbols from genes.json."
        )
    if len(program) < 2:
        raise C2SInputError("A gene program needs at least 2 genes to rank.")
    return np.array([column[g] for g in program])


def program_agreement(pred: np.ndarray, true: np.ndarray, metric: str = "kendall") -> float | None:
    """Kendall τ-b or Pearson r between two (n_program,) vectors. None when ``true`` is constant
    (nothing to agree with); 0.0 when only ``pred`` is constant (e.g. names no program gene)."""
    if np.ptp(true) == 0:
        return None
    if np.ptp(pred) == 0:
        return 0.0
    if metric == "kendall":
        return float(stats.kendalltau(pred, true).statistic)
    return float(stats.pearsonr(pred, true).statistic)
