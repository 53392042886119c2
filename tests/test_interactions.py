"""Gene-interaction knowledge: the resource keeps only pairs of genes in the data (liana's table read without
importing liana; a user's CSV; complexes split; case-insensitive matches), the interaction tasks are balanced,
seeded and linear in pairs, and the spatial context lists a pair only when its ligand and receptor are in the two
cells' sentences."""

import logging
import re
import sys

import numpy as np
import pandas as pd
import pytest

from c2s.config.data import DataConfig
from c2s.config.tasks import TaskOptionsConfig
from c2s.corpus.build import build_corpus
from c2s.corpus.interactions import LIANA_FILE, build_interactions, match_genes
from c2s.corpus.plan_meta import interactions_of, spatial_neighbours
from c2s.errors import C2SInputError
from c2s.io.synthetic_spatial import make_spatial_lr
from c2s.tasks import build_tasks
from c2s.tasks.render import render_all

GENES = np.array(["CD3D", "Il7r", "IL7R", "TNF", "TNFRSF1A", "TNFRSF1B", "ITGA1", "ITGB1", "COL1A1", "LTB"])


def test_user_table_keeps_pairs_of_genes_in_the_data(tmp_path, caplog):
    csv = tmp_path / "pairs.csv"
    pd.DataFrame(
        {
            "ligand": ["TNF", "TNF", "COL1A1", "XCL1", "TNF", "LTB", "ltb", "CD3D"],
            "receptor": ["TNFRSF1A", "TNFRSF1B", "ITGA1_ITGB1", "XCR1", "TNFRSF1A", "TNFRSF1A", "tnfrsf1a", "CD3D"],
            "type": ["ligand-receptor"] * 8,
        }
    ).to_csv(csv, index=False)
    with caplog.at_level(logging.INFO):
        inter = build_interactions(str(csv), "human", GENES, 0.1, 0.1, 0)
    got = {(GENES[a], GENES[b]) for a, b in inter.pairs}
    # XCL1/XCR1 absent; the repeat and the case-folded LTB pair collapse; CD3D with itself is not a pair
    assert got == {
        ("TNF", "TNFRSF1A"),
        ("TNF", "TNFRSF1B"),
        ("COL1A1", "ITGA1"),
        ("COL1A1", "ITGB1"),
        ("LTB", "TNFRSF1A"),
    }
    assert (
        len(inter) == 5 and inter.split.shape == (5,) and "9 gene pairs" in caplog.text and "5 distinct" in caplog.text
    )


def test_case_insensitive_match_only_when_unambiguous():
    ids = match_genes(pd.Series(["il7r", "IL7R", "Il7r", "cd3d", "LTb", "nope"]), GENES)
    assert list(ids) == [-1, 2, 1, 0, 9, -1]  # il7r: two genes differ only by case -> no loose match


def test_liana_default_is_read_without_importing_liana():
    from importlib.metadata import distribution

    sys.modules.pop("liana", None)
    table = pd.read_csv(str(distribution("liana").locate_file(LIANA_FILE)), index_col=0)
    human = table[table["resource"] == "consensus"]
    names = np.array(
        sorted({g for c in ("source_genesymbol", "target_genesymbol") for x in human[c] for g in x.split("_")})
    )
    names = names[:: max(1, names.size // 300)]  # a 300-gene panel
    inter = build_interactions(None, "human", names, 0.1, 0.1, 0)
    assert "liana" not in sys.modules and inter.origin.startswith("liana 1.10.0 consensus")
    expected = set()
    panel = set(names)
    for a, b in zip(human["source_genesymbol"], human["target_genesymbol"]):  # independently, in Python
        expected |= {(x, y) for x in a.split("_") for y in b.split("_") if x in panel and y in panel and x != y}
    assert {(names[a], names[b]) for a, b in inter.pairs} == expected and len(expected) > 10


def test_bad_tables_fail_in_one_line(tmp_path):
    with pytest.raises(C2SInputError, match="not found"):
        build_interactions(str(tmp_path / "none.csv"), "human", GENES, 0.1, 0.1, 0)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nTNF,TNFRSF1A\n")
    with pytest.raises(C2SInputError, match="ligand/receptor or gene_a/gene_b") as err:
        build_interactions(str(bad), "human", GENES, 0.1, 0.1, 0)
    assert "\n" not in str(err.value)
    with pytest.raises(C2SInputError, match="no resource 'nope'"):
        build_interactions("liana:nope", "human", GENES, 0.1, 0.1, 0)


@pytest.fixture(scope="module")
def spatial(tmp_path_factory):
    """The synthetic sections as a corpus with its interaction table and neighbours."""
    d = tmp_path_factory.mktemp("slr")
    adata, table = make_spatial_lr(n_sections=4, side=12, patch=6, n_pairs=6, n_genes=80, seed=1)
    adata.write_h5ad(d / "x.h5ad")
    table.to_csv(d / "pairs.csv", index=False)
    data = DataConfig(name="slr", path=str(d / "x.h5ad"), cell_type_key="cell_type", batch_key="section",
                      interactions_csv=str(d / "pairs.csv"))  # fmt: skip
    corpus = build_corpus(data, top_k=30, progress=False)
    corpus.interactions = interactions_of(data, corpus, 0.1, 0.1, 0)
    for s in ("train", "val", "test"):
        corpus.neighbours[s] = spatial_neighbours(corpus, s, 5)
    return corpus


def _render(corpus, names, seed=0, **opt):
    examples, skipped = render_all(corpus, build_tasks(names, TaskOptionsConfig(**opt)), seed=seed)
    return examples, skipped


def test_yes_no_is_balanced_seeded_and_its_negatives_are_not_pairs(spatial):
    truth = {tuple(p) for p in spatial.sentences.gene_names[spatial.interactions.pairs].tolist()}
    pool = set(spatial.sentences.gene_names[spatial.interactions.pairs[:, 1]])
    a, _ = _render(spatial, ["interaction_yes_no"], seed=0)
    b, _ = _render(spatial, ["interaction_yes_no"], seed=0)
    c, _ = _render(spatial, ["interaction_yes_no"], seed=5)
    assert [(x.prompt, x.target) for x in a] == [(x.prompt, x.target) for x in b]
    assert [(x.prompt, x.target) for x in a] != [(x.prompt, x.target) for x in c]
    assert len(a) == 2 * len(truth)  # linear: one yes and one no per pair, each in its ligand's split
    for split in ("train", "val", "test"):
        answers = [x.target for x in a if x.split == split]
        assert answers.count("yes") == answers.count("no")
    for x in a:
        genes = [w.rstrip("?.") for w in x.prompt.split() if w.rstrip("?.") in set(spatial.sentences.gene_names)]
        assert ((genes[0], genes[1]) in truth) == (x.target == "yes")
        assert x.target == "yes" or genes[1] in pool


def test_partners_lists_every_partner_of_the_ligand(spatial):
    names = spatial.sentences.gene_names
    partners = {}
    for a, b in spatial.interactions.pairs:
        partners.setdefault(names[a], set()).add(names[b])
    examples, _ = _render(spatial, ["interaction_partners"], repeats=2)
    assert len(examples) == 2 * len(partners)
    for x in examples:
        ligand = next(w.strip("?.:,") for w in x.prompt.split() if w.strip("?.:,") in partners)
        assert set(x.target.split()) == partners[ligand]


def test_context_lists_a_pair_only_when_ligand_and_receptor_are_in_the_two_sentences(spatial):
    names = spatial.sentences.gene_names
    truth = {tuple(p) for p in names[spatial.interactions.pairs].tolist()}
    k = 10
    for task in ("spatial_neighbour_identification", "spatial_niche"):
        examples, skipped = _render(spatial, [task], interaction_context=True, multi_genes_per_cell=k)
        assert not skipped and examples
        again, _ = _render(spatial, [task], interaction_context=True, multi_genes_per_cell=k)
        assert [x.prompt for x in examples] == [x.prompt for x in again]
        n_listed = 0
        pos = {c: i for i, c in enumerate(spatial.cell_ids.to_pylist())}
        for x in examples:
            head = x.prompt.split("\n", 1)[0]
            shown = spatial.sentences.take(np.array([pos[c] for c in x.cell_ids]), k)  # centre, then Cell 1..
            centre, others = set(names[shown[0][shown[0] >= 0]]), [set(names[g[g >= 0]]) for g in shown[1:]]
            expected = {}
            for j, genes in enumerate(others, 1):
                hits = sorted((a, b) for a, b in truth if (a in centre and b in genes) or (a in genes and b in centre))
                if hits:
                    expected[j] = hits
            listed = {
                int(j): sorted(tuple(p.split(">")) for p in pairs.split(", "))
                for j, pairs in re.findall(r"Cell (\d+): ([^;]+)", head.split(": ", 1)[1])
            }
            assert listed == expected, (x.prompt, expected)
            n_listed += bool(listed)
            assert len(x.prompt.split()) < 1024  # within max_tokens (words >= tokens of the gene tokenizer)
        assert n_listed > len(examples) / 3  # the synthetic neighbours do share pairs


def test_without_pairs_the_tasks_are_skipped_with_the_reason(tmp_path, caplog):
    csv = tmp_path / "pairs.csv"
    pd.DataFrame({"ligand": ["XCL1"], "receptor": ["XCR1"]}).to_csv(csv, index=False)
    data = DataConfig(name="syn", path="synthetic:0", cell_type_key="cell_type", interactions_csv=str(csv))
    corpus = build_corpus(data, top_k=20, progress=False)
    corpus.interactions = interactions_of(data, corpus, 0.1, 0.1, 0)
    with caplog.at_level(logging.WARNING):
        examples, skipped = _render(corpus, ["interaction_partners", "interaction_yes_no"])
    assert not examples and set(skipped) == {"interaction_partners", "interaction_yes_no"}
    assert "no interaction pair has both genes in the data" in caplog.text


def test_context_without_room_in_max_tokens_lists_nothing(spatial):
    examples, _ = _render(spatial, ["spatial_niche"], interaction_context=True, multi_genes_per_cell=30, max_tokens=200)
    assert examples and all("not listed (no room within max_tokens)" in x.prompt.split("\n")[0] for x in examples)


def test_a_gene_paired_with_the_whole_pool_is_left_out_and_counted(tmp_path, caplog):
    csv = tmp_path / "pairs.csv"
    csv.write_text("ligand,receptor\nG0,G1\nG0,G2\n")  # the pool is {G1, G2}: G0 has no negative partner
    data = DataConfig(name="syn", path="synthetic:0", cell_type_key="cell_type", interactions_csv=str(csv))
    corpus = build_corpus(data, top_k=20, progress=False)
    corpus.interactions = interactions_of(data, corpus, 0.0, 0.0, 0)
    with caplog.at_level(logging.WARNING):
        examples, skipped = _render(corpus, ["interaction_yes_no"])
    assert (
        not examples and "1 gene(s) pair with every gene of the pool; their 2 true pair(s) are left out" in caplog.text
    )
