"""Every task renders, and its targets agree with the source data."""

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from c2s.config.tasks import TaskOptionsConfig
from c2s.scoring.metric import Metric
from c2s.tasks import DOWNSTREAM, PRETRAINING, REGISTRY, build_tasks
from c2s.tasks.render import render_all

OPT = TaskOptionsConfig(genes_per_cell=50, multi_genes_per_cell=10, max_tokens=400, repeats=2)


def _render(corpus, names=None):
    tasks = build_tasks(names or list(REGISTRY), OPT)
    examples, skipped = render_all(corpus, tasks, seed=0)
    by_task = {}
    for e in examples:
        by_task.setdefault(e.task, []).append(e)
    return by_task, skipped


def test_registry_shape():
    assert len(PRETRAINING) == 12 and len(DOWNSTREAM) == 7
    for cls in REGISTRY.values():
        assert len(cls.templates) >= 5, cls.name
        assert cls.kind in ("single_cell", "multi_cell", "gene_set", "downstream", "interaction")
        assert isinstance(cls.metric, Metric)


def test_all_tasks_render_on_synthetic(synthetic_corpus):
    by_task, skipped = _render(synthetic_corpus)
    assert skipped == {}
    assert set(by_task) == set(REGISTRY)
    for name, exs in by_task.items():
        for e in exs:
            assert e.prompt and e.target, name
            assert not re.search(r"\{[a-z_]+\}", e.prompt), f"{name}: unfilled placeholder in {e.prompt!r}"
        used = Counter(e.prompt.split("\n")[0][:20] for e in exs)
        if len(exs) >= 20:
            assert len(used) >= 3, f"{name} uses too few templates"


def test_pbmc_renders_and_skips_with_reasons(pbmc_corpus):
    by_task, skipped = _render(pbmc_corpus)
    assert {
        "cell_lm",
        "cell_type_annotation",
        "conditional_cell_generation",
        "multi_cell_lm",
        "sample_cell_type_annotation",
        "sample_generation_cell_types",
        "sample_generation_description",
        "nl_interpretation",
        "gene_set_enumeration",
        "gene_set_naming",
        "dataset_interpretation",
    } <= set(by_task)
    assert "tissue" in skipped["tissue_annotation"] and "condition" in skipped["perturbation_response"]
    assert "spatial" in skipped["spatial_niche"] and "qa" in skipped["qa"]


def test_single_cell_targets_match_source(pbmc, pbmc_corpus):
    by_task, _ = _render(pbmc_corpus, ["cell_type_annotation", "cell_lm", "conditional_cell_generation"])
    x = pbmc.raw.X.toarray()
    names = np.asarray(pbmc.raw.var_names)
    pos = {c: i for i, c in enumerate(pbmc.obs_names)}
    for e in by_task["cell_type_annotation"]:
        assert e.target == pbmc.obs["bulk_labels"].iloc[pos[e.cell_ids[0]]]
        assert e.meta["cell_type"] == e.target
    for e in by_task["cell_lm"][:50] + by_task["conditional_cell_generation"][:50]:
        row = x[pos[e.cell_ids[0]]]
        genes = e.target.split()
        assert len(genes) == 50
        vals = row[[list(names).index(g) for g in genes]]
        assert np.all(np.diff(vals) <= 0)
    for e in by_task["conditional_cell_generation"]:
        assert pbmc.obs["bulk_labels"].iloc[pos[e.cell_ids[0]]] in e.prompt


def test_multi_cell_targets(synthetic_corpus):
    by_task, _ = _render(synthetic_corpus, ["tissue_annotation", "sample_cell_type_annotation", "multi_cell_lm"])
    obs = synthetic_corpus.obs
    for e in by_task["tissue_annotation"]:
        tissues = obs.loc[e.cell_ids, "tissue"]
        assert tissues.nunique() == 1 and e.target == tissues.iloc[0]  # samples never mix groups
        assert obs.loc[e.cell_ids, "split"].nunique() == 1
    for e in by_task["sample_cell_type_annotation"]:
        assert e.target.split(", ") == list(obs.loc[e.cell_ids, "cell_type"])
    for e in by_task["multi_cell_lm"]:
        lines = e.target.split("\n")
        assert len(lines) == len(e.cell_ids) >= 2
        assert all(len(line.split(": ", 1)[1].split()) <= 10 for line in lines)


def test_gene_set_targets(pbmc_corpus):
    by_task, _ = _render(pbmc_corpus, ["gene_set_enumeration", "gene_set_naming"])
    sets = pbmc_corpus.gene_sets
    assert "CD14+ Monocyte markers" in sets and len(sets["CD14+ Monocyte markers"]) == 20
    for e in by_task["gene_set_naming"]:
        assert e.target in sets and sorted(sets[e.target]) == sorted(w for w in sets[e.target] if w in e.prompt.split())
    for e in by_task["gene_set_enumeration"]:
        name = next(n for n in sets if n in e.prompt)
        assert e.target.split() == sets[name]
    # markers are real: monocyte markers include classic monocyte genes
    assert {"FCN1", "CST3", "LST1"} & set(sets["CD14+ Monocyte markers"])


def test_perturbation_pairs(synthetic_corpus):
    by_task, _ = _render(synthetic_corpus, ["perturbation_response"])
    obs = synthetic_corpus.obs
    exs = by_task["perturbation_response"]
    assert len(exs) == (obs["condition"] == "stimulated").sum()
    for e in exs:
        control, perturbed = e.cell_ids
        assert obs.loc[control, "condition"] == "control" and obs.loc[perturbed, "condition"] == "stimulated"
        assert obs.loc[control, "cell_type"] == obs.loc[perturbed, "cell_type"]
        i = obs.index.get_loc(perturbed)
        assert e.target == synthetic_corpus.sentences.sentence(i, 50)
        assert "stimulated" in e.prompt


def test_spatial_and_text_tasks(synthetic_corpus):
    by_task, _ = _render(
        synthetic_corpus,
        ["spatial_niche", "spatial_neighbour_identification", "qa", "cluster_captioning", "dataset_interpretation"],
    )
    obs = synthetic_corpus.obs
    for e in by_task["spatial_niche"][:50]:
        assert e.target.endswith("-rich niche") and e.target[: -len("-rich niche")] in set(obs["cell_type"])
    from c2s.corpus.plan_meta import spatial_neighbours

    pos = {c: i for i, c in enumerate(obs.index)}
    for split in ("train", "test"):
        cells = synthetic_corpus.cells(split)
        near = dict(zip(cells.tolist(), spatial_neighbours(synthetic_corpus, split, OPT.neighbours).tolist()))
        exs = [e for e in by_task["spatial_neighbour_identification"] if e.split == split]
        assert len(exs) == sum(row[0] >= 0 for row in near.values())  # every centre with a full neighbourhood
        for e in exs:
            assert re.fullmatch(r"Cell \d(, Cell \d)*", e.target)
            centre, *cand = [pos[c] for c in e.cell_ids]
            assert len(set(cand) | {centre}) == 5 and set(cand) <= set(cells.tolist())  # distinct, same split
            answered = {int(j) - 1 for j in re.findall(r"Cell (\d)", e.target)}
            assert {cand[j] for j in answered} == set(near[centre][:2])  # the two nearest, and only they
            assert not {cand[j] for j in range(4) if j not in answered} & set(near[centre])  # far: not neighbours
    for e in by_task["qa"]:
        if e.target == "donor1":
            assert set(obs.loc[e.cell_ids, "donor"]) == {"donor1"}
    assert {e.target for e in by_task["qa"]} <= {"donor1", "yes"}
    for e in by_task["cluster_captioning"]:
        assert set(obs.loc[e.cell_ids, "caption"]) == {e.target}
    assert all("Cell types in this sample" in e.target for e in by_task["dataset_interpretation"])


def test_rendering_is_seeded(synthetic_corpus):
    a, _ = _render(synthetic_corpus, ["cell_type_annotation", "multi_cell_lm"])
    b, _ = _render(synthetic_corpus, ["multi_cell_lm", "cell_type_annotation"])  # order does not matter
    for t in a:
        assert [(e.prompt, e.target) for e in a[t]] == [(e.prompt, e.target) for e in b[t]]


def test_unknown_task_name():
    from c2s.errors import C2SInputError

    with pytest.raises(C2SInputError, match="Unknown task.*Known tasks"):
        build_tasks(["cell_typ_annotation"])


def _section_pairs(corpus, k=5):
    from c2s.corpus.plan_meta import spatial_neighbours

    section = corpus.roles["batch"][1]
    pairs = same = 0
    for split in ("train", "val", "test"):
        nb = spatial_neighbours(corpus, split, k)
        centre = np.repeat(corpus.cells(split), nb.shape[1]).reshape(nb.shape)
        ok = nb >= 0
        pairs += int(ok.sum())
        same += int((section[centre[ok]] == section[nb[ok]]).sum())
    return pairs, same


def test_spatial_neighbours_stay_within_a_section(tmp_path):
    """Three sections in one overlapping coordinate frame: no neighbour pair may cross them."""
    import pandas as pd

    from c2s.corpus.build import build_corpus
    from tests.conftest import make_counts

    a = make_counts(600, 50)
    a.obs["batch"] = pd.Categorical(np.repeat(["0", "1", "2"], 200))
    a.obsm["spatial"] = np.random.default_rng(0).random((600, 2))  # every section spans the same frame
    a.write_h5ad(tmp_path / "s.h5ad")
    corpus = build_corpus(
        {"name": "s", "path": str(tmp_path / "s.h5ad"), "batch_key": "batch"}, top_k=20, progress=False
    )
    pairs, same = _section_pairs(corpus)
    assert pairs > 0 and same == pairs
    from c2s.corpus.plan_meta import spatial_neighbours

    flat = build_corpus({"name": "s", "path": str(tmp_path / "s.h5ad")}, top_k=20, progress=False)  # no sections
    nb = spatial_neighbours(flat, "train", 5)
    centre = np.repeat(flat.cells("train"), 5).reshape(nb.shape)
    section = corpus.roles["batch"][1]  # the same cells in the same order
    assert (section[centre] != section[nb]).mean() > 0.3  # without sections, neighbours do cross them


@pytest.mark.parametrize("query_cells", [1 << 16, 7])
def test_spatial_neighbours_match_brute_force_with_duplicate_points(tmp_path, monkeypatch, query_cells):
    """The k nearest by distance (scipy cdist over every pair), self never among them, even when
    many cells share a coordinate (ties are broken by the tree, so compare distances); the same
    when the tree is queried in blocks of 7 cells."""
    from scipy.spatial.distance import cdist

    import c2s.corpus.plan_meta
    from c2s.corpus.build import build_corpus
    from c2s.corpus.plan_meta import spatial_neighbours
    from tests.conftest import make_counts

    monkeypatch.setattr(c2s.corpus.plan_meta, "QUERY_CELLS", query_cells)

    a = make_counts(300, 40)
    a.obsm["spatial"] = np.random.default_rng(1).integers(0, 6, (300, 2)).astype(float)  # ~8 cells per point
    a.write_h5ad(tmp_path / "d.h5ad")
    corpus = build_corpus({"name": "d", "path": str(tmp_path / "d.h5ad")}, top_k=20, progress=False)
    cells = corpus.cells("train")
    nb = spatial_neighbours(corpus, "train", 5)
    pts = np.asarray(corpus.spatial)
    d = cdist(pts[cells], pts[cells])
    np.fill_diagonal(d, np.inf)
    expect = np.sort(d, axis=1)[:, :5]
    got = np.linalg.norm(pts[nb] - pts[cells][:, None, :], axis=2)
    assert (nb != cells[:, None]).all()
    assert np.allclose(np.sort(got, axis=1), expect)
    assert all(len(set(row)) == 5 for row in nb.tolist())


@pytest.mark.skipif(
    not (Path(__file__).resolve().parents[2] / "shared/data/starmap_mpfc.h5ad").exists(),
    reason="../shared/data/starmap_mpfc.h5ad not present",
)
def test_starmap_neighbours_never_cross_sections():
    from c2s.corpus.build import build_corpus

    path = Path(__file__).resolve().parents[2] / "shared/data/starmap_mpfc.h5ad"
    corpus = build_corpus(
        {"name": "starmap", "path": str(path), "cell_type_key": "cell_type", "batch_key": "batch", "organism": "mouse"},
        top_k=50,
        progress=False,
    )
    pairs, same = _section_pairs(corpus)
    assert pairs >= 5 * 3000 and same == pairs


def test_marker_genes_equal_scanpy_t_test(pbmc):
    """Our sparse Welch t-test gives scanpy rank_genes_groups(method="t-test")'s markers."""
    import anndata as ad
    import pandas as pd
    import scanpy as sc

    from c2s.corpus.gene_sets import marker_gene_sets

    expr = pbmc.raw.to_adata()
    labels = pd.Series(expr.obs["bulk_labels"].astype(str).to_numpy())
    ours = marker_gene_sets(expr, labels, n_genes=20)
    ref = ad.AnnData(
        expr.X, var=pd.DataFrame(index=expr.var_names), obs=pd.DataFrame({"label": pd.Categorical(labels)})
    )
    ref.uns["log1p"] = {"base": None}
    sc.tl.rank_genes_groups(ref, "label", method="t-test", n_genes=20, use_raw=False)
    names = ref.uns["rank_genes_groups"]["names"]
    assert ours == {f"{g} markers": [str(x) for x in names[g]] for g in names.dtype.names}
