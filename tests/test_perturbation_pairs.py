"""Closest-of-m training pairs for perturbation response, and the true-gene share of the scoring."""

import dataclasses
import logging

import numpy as np

from c2s.eval.perturbation import gene_share
from c2s.tasks import build_tasks
from c2s.tasks.perturbation import closest
from c2s.tasks.render import render_all
from tests.test_tasks import OPT


def _pairs(corpus, m):
    opt = dataclasses.replace(OPT, train_pair_candidates=m)
    examples, _ = render_all(corpus, build_tasks(["perturbation_response"], opt), seed=0)
    return {(e.split, e.cell_ids[1]): e.cell_ids[0] for e in examples}


def _shared(corpus, a: str, b: str) -> int:
    pos = {c: i for i, c in enumerate(corpus.obs.index)}
    return len(set(corpus.sentences.genes(pos[a], 50)) & set(corpus.sentences.genes(pos[b], 50)))


def test_closest_matches_brute_force(synthetic_corpus):
    rng = np.random.default_rng(3)
    n = len(synthetic_corpus.sentences)
    cells, cand = rng.integers(0, n, 40), rng.integers(0, n, (40, 6))
    got = closest(synthetic_corpus, cells, cand, 30)
    for i in range(40):
        own = set(synthetic_corpus.sentences.genes(int(cells[i]), 30))
        counts = [len(own & set(synthetic_corpus.sentences.genes(int(c), 30))) for c in cand[i]]
        assert got[i] == cand[i][int(np.argmax(counts))]  # argmax: the first candidate on ties


def test_train_pairs_closer_eval_pairs_unchanged(synthetic_corpus):
    uniform, close = _pairs(synthetic_corpus, 1), _pairs(synthetic_corpus, 16)
    assert uniform.keys() == close.keys()
    obs = synthetic_corpus.obs
    for (split, pert), ctrl in close.items():
        assert obs.loc[ctrl, "condition"] == "control" and obs.loc[ctrl, "cell_type"] == obs.loc[pert, "cell_type"]
        if split != "train":
            assert ctrl == uniform[(split, pert)]  # the evaluation protocol does not change
    train = [k for k in close if k[0] == "train"]
    assert sum(close[k] != uniform[k] for k in train) > len(train) // 2
    near = np.mean([_shared(synthetic_corpus, close[k], k[1]) for k in train])
    far = np.mean([_shared(synthetic_corpus, uniform[k], k[1]) for k in train])
    assert near > far
    assert _pairs(synthetic_corpus, 16) == close  # seeded


def test_gene_share_hand_worked():
    true = np.array([[3.0, 2.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 2.0]])
    pred = np.array([[0.0, 5.0, 0.0, 4.0, 0.0], [2.0, 1.5, 1.0, 0.5, 0.0]])
    # row 0: pred names {1, 3}; 1 of the 3 true genes -> 1/3. Row 1: 2 true genes, so pred's top 2 {0, 1}: 1 of 2.
    np.testing.assert_allclose(gene_share(pred, true), [1 / 3, 0.5])
    np.testing.assert_allclose(gene_share(true, true), [1.0, 1.0])
    np.testing.assert_allclose(gene_share(np.zeros_like(true), true), [0.0, 0.0])


def test_identity_pairs_train_only(synthetic_corpus, caplog):
    caplog.set_level(logging.INFO)
    opt = dataclasses.replace(OPT, train_identity_pairs=True)
    examples, _ = render_all(synthetic_corpus, build_tasks(["perturbation_response"], opt), seed=0)
    base = _pairs(synthetic_corpus, 1)
    obs = synthetic_corpus.obs
    own = [e for e in examples if e.cell_ids[0] == e.cell_ids[1]]
    train_controls = {
        c for c in synthetic_corpus.obs.index[synthetic_corpus.cells("train")] if obs.loc[c, "condition"] == "control"
    }
    assert {e.cell_ids[0] for e in own} == train_controls and all(e.split == "train" for e in own)
    for e in own:
        assert "control" in e.prompt and e.target == synthetic_corpus.sentences.sentence(
            obs.index.get_loc(e.cell_ids[0]), 50
        )
        assert e.target in e.prompt  # the control shown is the target itself
    rest = {(e.split, e.cell_ids[1]): e.cell_ids[0] for e in examples if e.cell_ids[0] != e.cell_ids[1]}
    assert rest == base  # the perturbed cells' pairs do not change
    assert f"{len(own)} identity pairs (a control cell with itself) added to train" in caplog.text


def test_identity_pairs_leave_the_program_and_mean_shift_alone(caplog):
    caplog.set_level(logging.INFO)
    from c2s.eval.perturbation import score_perturbation
    from c2s.scoring.program import top_de_genes
    from c2s.sentences import InverseFit

    genes = [f"G{i}" for i in range(6)]
    fit = InverseFit(
        slope=-1.0, intercept=3.0, r2=1.0, pearson_r=-1.0, spearman_r=-1.0, n_cells=1, n_points=1, top_k=None, seed=0
    )

    def row(ctrl, pert, ids):
        return {"prompt": f"Control: {' '.join(ctrl)}\nperturb", "target": " ".join(pert), "cell_ids": ids}

    pairs = [
        row(["G0", "G1", "G2"], ["G3", "G0", "G1"], ["c1", "p1"]),
        row(["G1", "G0"], ["G3", "G4", "G1"], ["c2", "p2"]),
    ]
    own = [row(["G0", "G1", "G2"], ["G0", "G1", "G2"], ["c1", "c1"])] * 5
    msg = "5 identity pair(s) (a control cell with itself) left out of 7 rows"
    top_de_genes(pairs + own, fit, genes, 3)  # identity rows only dilute a DE ranking; the count says they went
    assert msg in caplog.text
    caplog.clear()
    test = [row(["G0", "G1"], ["G3", "G0"], ["c3", "p3"])] * 2
    a = score_perturbation(test, pairs + own, ["G3 G0", "G0 G3"], fit, genes, n_boot=10)
    b = score_perturbation(test, pairs, ["G3 G0", "G0 G3"], fit, genes, n_boot=10)
    assert a["baselines"] == b["baselines"] and a["program"] == b["program"]
    assert msg in caplog.text
