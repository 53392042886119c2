"""Rewards are plain callables; None means "does not apply"; combinations are weighted sums."""

import numpy as np
import pytest

from c2s.errors import C2SInputError
from c2s.rewards import build_rewards, gene_overlap, label_match, weighted_sum
from c2s.rewards.basic import GeneOverlap


def test_label_match_normalises_and_skips_missing():
    out = label_match(["p"] * 3, ["CD14+ Monocyte.", "B cell", "x"], label=["cd14+ monocyte", "T cell", None])
    assert out == [1.0, 0.0, None]


def test_gene_overlap_by_hand():
    assert gene_overlap(["p", "p"], ["CD3D CD3E X", "A"], genes=["CD3D CD3E CD8A LCK", None]) == [0.5, None]


def test_gene_overlap_parses_as_evaluation_does():
    """The reward and evaluation's overlap % share one parser: a closing period (the c2s_scale format) and
    words outside the vocabulary; whitespace splitting scored the first 0.5 and the second 1/3, not 1 and 2/3."""
    from c2s.eval.metrics import overlap_pct
    from c2s.rewards import build_rewards
    from c2s.scoring.parse import parse_genes

    vocab = ["CD3D", "CD3E", "CD8A", "LCK"]
    got = GeneOverlap(vocab)(["p", "p"], ["CD3D CD3E.", "CD3D, LCK CD3D"], genes=["CD3D CD3E", "CD3D CD8A LCK."])
    want = [
        overlap_pct([parse_genes(c, set(vocab))[0]], [parse_genes(r, set(vocab))[0]])[0] / 100
        for c, r in (("CD3D CD3E.", "CD3D CD3E"), ("CD3D, LCK CD3D", "CD3D CD8A LCK."))
    ]
    assert got == pytest.approx(want) and got == pytest.approx([1.0, 2 / 3])
    old_split = [
        len(set(r.split()) & set(c.split())) / len(set(r.split()))
        for c, r in (("CD3D CD3E.", "CD3D CD3E"), ("CD3D, LCK CD3D", "CD3D CD8A LCK."))
    ]
    assert old_split == pytest.approx([0.5, 1 / 3])  # the whitespace reward: it disagreed with the metric
    assert build_rewards({"gene_overlap": 1.0})["gene_overlap"](["p"], ["CD3D CD3E."], genes=["CD3D CD3E"]) == [1.0]


def test_reward_parameters_are_their_own_config_node():
    from c2s.rewards import check_rewards, reward_weights

    rewards = {"gene_program": {"weight": 2.0, "top_n": 5, "metric": "pearson"}, "label_match": 0.5}
    check_rewards(rewards)
    assert reward_weights(rewards) == {"gene_program": 2.0, "label_match": 0.5}
    with pytest.raises(C2SInputError, match=r"gene_program has unknown parameter\(s\) \['program_top_n'\]"):
        check_rewards({"gene_program": {"program_top_n": 5}})
    with pytest.raises(C2SInputError, match=r"grpo.rewards.gene_program: .*metric='spearman'"):
        check_rewards({"gene_program": {"metric": "spearman"}})


def test_weighted_sum_of_built_rewards_skips_none():
    weights = {"label_match": 2.0, "gene_overlap": 1.0}
    rewards = build_rewards(weights)
    fields = {"label": ["B cell", None, None], "genes": [None, "CD3D CD3E", None]}
    completions = ["B cell", "CD3D", "foo"]
    parts = {k: r(["p"] * 3, completions, **fields) for k, r in rewards.items()}
    assert weighted_sum(parts, weights) == [2.0, 0.5, None]
    with pytest.raises(C2SInputError, match=r"unknown reward\(s\) \['bleu'\].*known"):
        build_rewards({"bleu": 1.0})


def _fit(intercept: float, slope: float):
    from c2s.sentences.inverse import InverseFit

    return InverseFit(
        slope=slope,
        intercept=intercept,
        r2=1.0,
        pearson_r=-1.0,
        spearman_r=-1.0,
        n_cells=1,
        n_points=1,
        top_k=None,
        seed=0,
    )


def test_gene_program_reward_against_scipy():
    from scipy import stats

    from c2s.rewards.gene_program import GeneProgramReward

    genes = ["A", "B", "C", "D", "E"]
    fit = _fit(5.0, -2.0)
    reward = GeneProgramReward(genes, fit, ["A", "B", "C", "D"])
    out = reward(["p"] * 4, ["A B C D", "D C B A", "E", "x"], perturbed=["A B C D", "A B C D", "A B", None])
    expr = lambda order: [fit.predict(np.array([order.index(g)]))[0] if g in order else 0.0 for g in "ABCD"]  # noqa: E731
    assert out[0] == pytest.approx(1.0) and out[1] == pytest.approx(-1.0)
    assert out[2] == 0.0  # names no program gene: nothing ranked
    assert out[3] is None  # no true cell: does not apply
    mixed = reward(["p"], ["B A D"], perturbed=["A B C"])[0]
    assert mixed == pytest.approx(stats.kendalltau(expr(["B", "A", "D"]), expr(["A", "B", "C"])).statistic)


def test_gene_program_unknown_gene_fails():
    from c2s.rewards.gene_program import GeneProgramReward

    with pytest.raises(C2SInputError, match="absent from the shards' genes"):
        GeneProgramReward(["A", "B"], _fit(1.0, -1.0), ["A", "ISG15"])


def test_top_de_genes_and_control_parsing_by_hand():
    from c2s.scoring.program import control_genes, top_de_genes

    vocab = {"A", "B", "C", "D"}
    assert control_genes("A T cell before treatment: B C A D\nHow does it look?", vocab) == ["B", "C", "A", "D"]
    rows = [
        {"prompt": "Control cell: A B\nPredict.", "target": "C A"},
        {"prompt": "Control cell: A B\nPredict.", "target": "C D"},
    ]
    fit = _fit(2.0, -1.0)  # rank 0 -> 2, rank 1 -> 2 - log10(2) = 1.70
    # mean changes: A 2 -> 1.70/2 (-1.15), B 1.70 -> 0 (-1.70), C 0 -> 2 (+2), D 0 -> 0.85 (+0.85)
    assert top_de_genes(rows, fit, ["A", "B", "C", "D"], 3) == ["C", "B", "A"]


def test_bertscore_reward_scores_only_rows_with_a_reference():
    from c2s.rewards.text import BERTScoreReward
    from c2s.scoring.bertscore import bertscore_f1

    out = BERTScoreReward()(
        ["p"] * 3, ["B cells from blood", "x", "monocytes"], reference=["B cells in blood", None, "T cells"]
    )
    assert out[1] is None
    want = bertscore_f1(["B cells from blood", "monocytes"], ["B cells in blood", "T cells"])
    assert out[0] == pytest.approx(want[0]) and out[2] == pytest.approx(want[1]) and out[0] > out[2]


def test_sample_fields_follow_task_metric():
    from c2s.rewards import sample_fields

    rows = [
        {"task": "cell_type_annotation", "target": "B cell"},
        {"task": "perturbation_response", "target": "A B"},
        {"task": "nl_interpretation", "target": "text"},
        {"task": "cell_lm", "target": "C D"},
    ]
    f = sample_fields(rows)
    assert f["label"] == ["B cell", None, None, None] and f["perturbed"] == [None, "A B", None, None]
    assert f["reference"] == [None, None, "text", None] and f["genes"] == [None, "A B", None, "C D"]
