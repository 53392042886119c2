"""Perturbation-response scoring: predicted vs true perturbed cells over a gene program, next to
the identity (the control cell unchanged) and mean-shift (control + the mean training shift)
baselines. All cells are rebuilt to expression with the same inverse fit.

Metrics (95% bootstrap CIs over test pairs):
- ``program_kendall_tau``: per pair, Kendall τ-b over the program between predicted and true
  perturbed expression (the GRPO reward), averaged;
- ``population_kendall_tau``: τ-b over the program between the mean predicted and the mean true
  perturbed expression (scGen-style, cell type level);
- ``change_pearson_r``: Pearson r over the program between mean predicted and mean true change
  from the mean control (0 for identity, which predicts no change);
- ``true_gene_share``: per pair, the share of the true perturbed cell's sentence genes among the
  prediction's genes (its expressed genes, the highest first, as many as the true cell has), averaged.
  For identity this is what copying the control cell names.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from scipy import stats

from c2s.errors import C2SInputError
from c2s.eval.metrics import bootstrap_ci, bootstrap_paired, change_agreement, ci
from c2s.scoring.program import changed_pairs, pair_expression, program_agreement, program_columns, top_changed
from c2s.sentences import InverseFit, reconstruct


def _population_tau(pred: list, true: list) -> float:
    a, b = np.mean(pred, 0), np.mean(true, 0)
    return float(stats.kendalltau(a, b).statistic) if np.ptp(a) and np.ptp(b) else 0.0


def _change_r(pred_ctrl: list, true: list) -> float:
    """Pearson r of mean changes; ``pred_ctrl`` items are (2, n_program): prediction and its control."""
    pc = np.mean(pred_ctrl, 0)
    return change_agreement(pc[0], np.mean(true, 0), pc[1])["pearson_r"]


def gene_share(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(n,) share of each row's expressed genes of ``true`` (n, g) found among the top expressed genes
    of ``pred`` (n, g), taking at most as many as ``true`` has (ties: lower column first)."""
    n_true = (true > 0).sum(1)
    k = np.minimum((pred > 0).sum(1), n_true)
    width = int(k.max(initial=0))
    order = np.argsort(-pred, axis=1, kind="stable")[:, :width]
    hit = (np.take_along_axis(true, order, 1) > 0) & (np.arange(width)[None, :] < k[:, None])
    return hit.sum(1) / np.maximum(n_true, 1)


def score_perturbation(
    rows: Sequence[Mapping],
    train_rows: Sequence[Mapping],
    generated: Sequence[str],
    fit: InverseFit,
    genes: Sequence[str],
    program: Sequence[str] | None = None,
    top_n: int = 20,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """{"program": [...], "model": {metric: ci}, "baselines": {"identity": ..., "mean_shift": ...}}."""
    train_rows = changed_pairs(train_rows)
    if not train_rows:
        raise C2SInputError(
            "No perturbation_response rows in the train split: the mean-shift baseline and the default "
            "gene program need training pairs."
        )
    tr_ctrl, tr_pert = pair_expression(train_rows, fit, genes)
    program = list(program) if program else top_changed(tr_ctrl, tr_pert, genes, top_n)
    cols = program_columns(program, genes)
    ctrl, true = pair_expression(rows, fit, genes)
    candidates = {
        "model": reconstruct(list(generated), fit, genes).expression,
        "identity": ctrl,
        "mean_shift": ctrl + (tr_pert.mean(0) - tr_ctrl.mean(0)),
    }
    t, c = true[:, cols], ctrl[:, cols]  # (n_pairs, n_program)
    out: dict = {"program": program, "baselines": {}}
    for name, pred in candidates.items():
        p = pred[:, cols]
        per_cell = [program_agreement(p[i], t[i]) for i in range(len(rows))]
        n_set = min(n_boot, 200)
        res = {
            "program_kendall_tau": ci(bootstrap_ci(np.array([x for x in per_cell if x is not None]), n_boot, seed)),
            "population_kendall_tau": ci(
                bootstrap_paired(_population_tau, list(p), list(t), n=n_set, seed=seed, bounds=(-1.0, 1.0))
            ),
            "change_pearson_r": ci(
                bootstrap_paired(_change_r, list(np.stack([p, c], 1)), list(t), n=n_set, seed=seed, bounds=(-1.0, 1.0))
            ),
            "true_gene_share": ci(bootstrap_ci(gene_share(pred, true), n_boot, seed)),
        }
        if name == "model":
            out["model"] = res
            out["_per_example"] = per_cell  # popped by the runner into predictions.jsonl
        else:
            out["baselines"][name] = res
    return out
