"""The metrics that score a task's generated answer, one definition each.

A task names its metric (``Task.metric``). The evaluator scores by it, ``predictions.jsonl`` names each
example's score by ``score``, and GRPO rewards read the row's target as the keyword fields in ``reward_fields``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """``name``: the report's key; ``score``: the per-example score's column in predictions.jsonl;
    ``reward_fields``: the reward keyword fields the row's target fills (see c2s.rewards)."""

    name: str
    score: str
    reward_fields: tuple[str, ...]


ACCURACY = Metric("accuracy", "correct", ("label",))  # normalised label equals the reference
OVERLAP = Metric("overlap", "overlap_pct", ("genes",))  # share of the reference genes named
BERTSCORE = Metric("bertscore", "bertscore_f1", ("reference",))  # free text against a reference answer
KENDALL_TAU = Metric("kendall_tau", "program_kendall_tau", ("perturbed", "genes"))  # perturbation response
# every field some metric fills, in first-seen order: label, genes, reference, perturbed
REWARD_FIELDS = tuple(dict.fromkeys(f for m in (ACCURACY, OVERLAP, BERTSCORE, KENDALL_TAU) for f in m.reward_fields))
