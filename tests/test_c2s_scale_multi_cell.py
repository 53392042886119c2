"""The released models' multi-cell prompts (prompt_format=c2s_scale): tissue prediction, tissue-conditioned
generation and the abstract summary, each asserted against a string built here from raw pbmc68k expression;
their answers parse; the token path (shards) equals tokenizing their text; zero-shot evaluate runs them."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
import scanpy as sc
import scipy.sparse as sp

from c2s.config.tasks import TaskOptionsConfig
from c2s.corpus.build import build_corpus
from c2s.scoring.parse import normalize_label, parse_genes
from c2s.tasks import build_tasks
from c2s.tasks.render import render_all

ROOT = Path(__file__).resolve().parents[1]
K = 8
ABSTRACT = "Blood cells of a healthy donor."
OPT = TaskOptionsConfig(genes_per_cell=K, multi_genes_per_cell=K, max_cells=3, prompt_format="c2s_scale")


@pytest.fixture(scope="module")
def pbmc_h5ad(tmp_path_factory):
    """pbmc68k with a tissue per louvain cluster parity (two tissues), counts-like expression from .raw."""
    a = sc.datasets.pbmc68k_reduced()
    obs = a.obs[["bulk_labels"]].copy()
    obs["tissue"] = np.where(a.obs["louvain"].astype(int) % 2 == 0, "blood", "bone marrow")
    path = tmp_path_factory.mktemp("pbmc") / "pbmc_tissue.h5ad"
    ad.AnnData(a.raw.X, obs=obs, var=a.raw.var).write_h5ad(path)
    return path


def _data(path):
    return {"name": "pbmc", "path": str(path), "cell_type_key": "bulk_labels", "tissue_key": "tissue",
            "organism": "human", "description": ABSTRACT}  # fmt: skip


def _sentence(adata, cell_id):
    """The cell's top-K genes, independently: expression descending, ties by column, upper-cased."""
    row = adata.X[adata.obs_names.get_loc(cell_id)]
    row = np.asarray(row.todense()).ravel() if sp.issparse(row) else np.asarray(row).ravel()
    cols = [j for j in np.lexsort((np.arange(row.size), -row)) if row[j] > 0][:K]
    return " ".join(str(adata.var_names[j]).upper() for j in cols)


def _cells(adata, ids):
    return ".\n".join(f"Cell {j + 1}:\n{_sentence(adata, c)}" for j, c in enumerate(ids))


@pytest.fixture(scope="module")
def rendered(pbmc_h5ad):
    corpus = build_corpus(_data(pbmc_h5ad), top_k=K, upper_case_genes=True, progress=False)
    names = ["tissue_annotation", "sample_generation_tissue", "nl_interpretation"]
    examples, skipped = render_all(corpus, build_tasks(names, OPT), seed=0)
    assert not skipped
    return {n: [e for e in examples if e.task == n] for n in names}, ad.read_h5ad(pbmc_h5ad)


def test_tissue_prediction_prompt_is_exact(rendered):
    by_task, adata = rendered
    for ex in by_task["tissue_annotation"][:5]:
        tissue = adata.obs.loc[ex.cell_ids[0], "tissue"]
        assert (adata.obs.loc[ex.cell_ids, "tissue"] == tissue).all() and 2 <= len(ex.cell_ids) <= 3
        assert ex.prompt == (
            f"The following is a list of {K} gene names ordered by descending expression level for "
            f"{len(ex.cell_ids)} different Homo sapiens cells. Your task is to give the tissue which these cells "
            f"belong to based on their gene expression.\nCell sentences:\n{_cells(adata, ex.cell_ids)}.\n"
            "The tissue which these cells belong to is:"
        )
        assert ex.target == f"{tissue}." and normalize_label(ex.target) == tissue


def test_tissue_conditioned_generation_prompt_is_exact(rendered):
    by_task, adata = rendered
    for ex in by_task["sample_generation_tissue"][:5]:
        tissue = adata.obs.loc[ex.cell_ids[0], "tissue"]
        assert ex.prompt == (
            f"Generate a list of {K} genes in order of descending expression for {len(ex.cell_ids)} different "
            f"Homo sapiens cells from a {tissue} tissue.\nCell sentences:\n"
        )
        assert ex.target == f"{_cells(adata, ex.cell_ids)}."
        vocab = {g.upper() for g in adata.var_names}
        genes, bad, _ = parse_genes(ex.target, vocab)  # "Cell j:" headers are not counted as bad genes
        assert bad == 0 and set(genes) == {g for c in ex.cell_ids for g in _sentence(adata, c).split()}


def test_abstract_summary_prompt_is_exact(rendered):
    by_task, adata = rendered
    for ex in by_task["nl_interpretation"][:5]:
        assert ex.prompt == (
            f"Consider these {K} highly expressed genes, ordered by descending expression, from "
            f"{len(ex.cell_ids)} Homo sapiens cells. Using this, your task is to generate an abstract summary "
            f"which summarizes the biological insights contained in these cells.\n{_cells(adata, ex.cell_ids)}.\n"
            "Abstract summary:"
        )
        assert ex.target == ABSTRACT + "."


@pytest.fixture(scope="module")
def standin(tmp_path_factory, pbmc_h5ad):
    from c2s.models.standin import make_standin, standin_texts

    return make_standin(tmp_path_factory.mktemp("standin") / "c2s-scale-tiny", standin_texts(_data(pbmc_h5ad), 200))


@pytest.mark.slow
def test_zero_shot_evaluate_runs_the_multi_cell_prompts(standin, pbmc_h5ad, tmp_path):
    out = tmp_path / "eval"
    args = [f"ckpt={standin}", "data=h5ad", f"data.path={pbmc_h5ad}", "data.cell_type_key=bulk_labels",
            "data.tissue_key=tissue", f"data.description='{ABSTRACT}'", "prompt_format=c2s_scale",
            "tasks=[tissue_annotation,sample_generation_tissue,nl_interpretation]", "max_examples=4",
            "generation.max_new_tokens=24", "bootstrap=20", "embeddings=false", f"out_dir={out}"]  # fmt: skip
    proc = subprocess.run([sys.executable, "evaluate.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert {r["task"] for r in rows} == {"tissue_annotation", "sample_generation_tissue", "nl_interpretation"}
    starts = {
        "tissue_annotation": "The following",
        "sample_generation_tissue": "Generate",
        "nl_interpretation": "Consider",
    }
    assert all(r["prompt"].startswith(starts[r["task"]]) and r["reference"].endswith(".") for r in rows)
    report = json.loads((out / "report.json").read_text())["tasks"]
    assert set(report) == set(starts)


def test_token_path_tokenizes_the_newline_layout_as_text(standin, pbmc_h5ad):
    """A gene list after a newline is never concatenated from " GENE" tokens: the batch is marked inexact and
    its ids are the tokenizer's on the text (the shards equal tokenizing what the model reads)."""
    from transformers import AutoTokenizer

    from c2s.data.assemble import TokenSpace
    from c2s.tasks.render import batches

    corpus = build_corpus(_data(pbmc_h5ad), top_k=K, upper_case_genes=True, progress=False)
    hf = AutoTokenizer.from_pretrained(standin)
    space = TokenSpace(hf.backend_tokenizer, corpus.sentences.gene_names)
    for fmt, exact in (("c2s_scale", False), ("c2s", True)):
        task = build_tasks(["tissue_annotation"], replace(OPT, prompt_format=fmt))[0]
        batch = next(batches(corpus, task, "train", seed=0))
        table, ok = space.table(corpus, task.name, "train", batch, check=True)
        assert ok is exact
        table = table if ok else space.retokenize(table)
        prompts, ids = table["prompt"].to_pylist(), table["prompt_ids"].to_pylist()
        assert [hf(p, add_special_tokens=False)["input_ids"] for p in prompts[:16]] == ids[:16]
