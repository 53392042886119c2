"""Interop with the released C2S-Scale checkpoints: their exact prompts (prompt_format=c2s_scale),
their tokenizer unchanged (add_genes=false), zero-shot evaluation of an HF dir on a new h5ad, and
LoRA fine-tuning of a local stand-in (a tiny Gemma-2 with a locally trained tokenizer)."""

import json
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.sparse as sp

from c2s.config.tasks import TaskOptionsConfig
from c2s.corpus.build import build_corpus
from c2s.errors import C2SInputError
from c2s.eval.sources import reservoir
from c2s.io.gene_names import resolve_gene_names
from c2s.scoring.parse import normalize_label, parse_genes
from c2s.tasks import build_tasks
from c2s.tasks.render import render_all

ROOT = Path(__file__).resolve().parents[1]
PBMC = {
    "name": "pbmc",
    "path": "scanpy:pbmc68k_reduced",
    "use_raw": True,
    "cell_type_key": "bulk_labels",
    "organism": "human",
}
CELL_TYPE_PROMPT = (
    "The following is a list of {num_genes} gene names ordered by descending expression level in a "
    "{organism} cell. Your task is to give the cell type which this cell belongs to based on its gene "
    "expression.\nCell sentence: {cell_sentence}.\nThe cell type corresponding to these genes is:"
)


def test_exact_c2s_scale_cell_type_prompt_on_one_pbmc68k_cell():
    corpus = build_corpus(PBMC, top_k=200, upper_case_genes=True, progress=False)
    task = build_tasks(["cell_type_annotation"], TaskOptionsConfig(genes_per_cell=200, prompt_format="c2s_scale"))[0]
    examples, _ = render_all(corpus, [task], seed=0)
    ex = examples[0]
    # the same cell, independently: raw expression sorted descending (ties by column), top 200, upper-cased
    adata = sc.datasets.pbmc68k_reduced()
    i = adata.obs_names.get_loc(ex.cell_ids[0])
    row = np.asarray(adata.raw.X[i].todense()).ravel() if sp.issparse(adata.raw.X) else adata.raw.X[i]
    cols = [j for j in np.lexsort((np.arange(row.size), -row)) if row[j] > 0][:200]
    genes = [str(adata.raw.var_names[j]).upper() for j in cols]
    assert len(genes) == 200 and any(g != str(adata.raw.var_names[j]) for g, j in zip(genes, cols))  # case changed
    expected = CELL_TYPE_PROMPT.format(num_genes=200, organism="Homo sapiens", cell_sentence=" ".join(genes))
    assert ex.prompt == expected
    assert ex.target == f"{adata.obs['bulk_labels'].iloc[i]}."


def test_c2s_scale_other_tasks_and_skips():
    corpus = build_corpus(dict(PBMC, organism="mouse"), top_k=20, upper_case_genes=True, progress=False)
    tasks = build_tasks(
        ["conditional_cell_generation", "cell_lm"], TaskOptionsConfig(genes_per_cell=20, prompt_format="c2s_scale")
    )
    examples, skipped = render_all(corpus, tasks, seed=0)
    assert "cell_lm" in skipped and "c2s_scale" in skipped["cell_lm"]
    ex = examples[0]
    cell_type = ex.meta["cell_type"]
    assert ex.prompt == (
        f"Generate a list of 20 genes in order of descending expression which represent a Mus musculus "
        f"cell of cell type {cell_type}.\nCell sentence:"
    )
    assert ex.target.endswith(".") and len(ex.target[:-1].split(" ")) == 20 and ex.target.upper() == ex.target


def test_perturbation_prompt_format():
    data = {
        "name": "syn",
        "path": "synthetic:0",
        "cell_type_key": "cell_type",
        "condition_key": "condition",
        "control_value": "control",
    }
    corpus = build_corpus(data, top_k=10, upper_case_genes=True, progress=False)
    task = build_tasks(["perturbation_response"], TaskOptionsConfig(genes_per_cell=10, prompt_format="c2s_scale"))[0]
    examples, _ = render_all(corpus, [task], seed=0)
    ex = examples[0]
    control = " ".join(ex.prompt.split("Control cell sentence: ")[1].split(".")[0].split())
    assert ex.prompt == (
        "Given the following cell sentence of 10 expressed genes representing a cell's basal state, "
        f"predict the cell sentence after applying the perturbation: {ex.meta['perturbation']}.\n"
        f"Control cell sentence: {control}.\n\nPerturbed cell sentence:"
    )
    assert len(control.split()) == 10 and ex.target.endswith(".") and len(ex.target[:-1].split()) == 10


def test_upper_case_gene_names_collide_into_unique_names(caplog):
    var = pd.DataFrame(index=["Cd3e", "Actb", "ACTB", "Gapdh"])
    assert list(resolve_gene_names(var, var.index, None)) == ["Cd3e", "Actb", "ACTB", "Gapdh"]  # default: case kept
    assert list(resolve_gene_names(var, var.index, None, upper_case=True)) == ["CD3E", "ACTB", "ACTB-1", "GAPDH"]
    assert "made unique" in caplog.text


def test_c2s_scale_responses_parse():
    assert normalize_label("CD14+ Monocyte.") == "cd14+ monocyte"
    assert normalize_label(" B cell. The following is a list of") == "b cell"
    assert normalize_label("Dendritic cell (pDC)") == "dendritic cell (pdc)"
    assert parse_genes("CD3D CD3E LTB.", {"CD3D", "CD3E", "LTB"}) == (["CD3D", "CD3E", "LTB"], 0, 0)
    assert parse_genes("RP11-34P13.7 X.", {"RP11-34P13.7"}) == (["RP11-34P13.7"], 1, 0)


def test_reservoir_is_uniform_bounded_and_seeded():
    rng = lambda: np.random.default_rng(3)  # noqa: E731
    assert reservoir(range(5), 10, rng()) == [0, 1, 2, 3, 4]
    a = reservoir(range(10_000), 50, rng())
    assert a == reservoir(iter(range(10_000)), 50, rng()) and a == sorted(a) and len(set(a)) == 50
    hits = np.zeros(10)
    for s in range(2000):  # each of 10 items kept with probability 3/10
        for x in reservoir(range(10), 3, np.random.default_rng(s)):
            hits[x] += 1
    assert np.all(np.abs(hits / 2000 - 0.3) < 0.05)


# ---- the stand-in: zero-shot evaluation and LoRA fine-tuning ------------------------------------


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    from c2s.models.standin import make_standin, standin_texts

    return make_standin(tmp_path_factory.mktemp("standin") / "c2s-scale-tiny", standin_texts(PBMC, n_cells=300))


@pytest.fixture(scope="module")
def new_h5ad(tmp_path_factory):
    """pbmc68k as a user's own file: expression in X, labels under another column name."""
    a = sc.datasets.pbmc68k_reduced()
    b = ad.AnnData(a.raw.X, obs=a.obs[["bulk_labels"]].rename(columns={"bulk_labels": "annotation"}), var=a.raw.var)
    path = tmp_path_factory.mktemp("user") / "my_cells.h5ad"
    b.write_h5ad(path)
    return path


def _run(args, timeout=600):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _accuracy(report_dir):
    return json.loads((report_dir / "report.json").read_text())["tasks"]["cell_type_annotation"]["model"]["accuracy"][
        "value"
    ]


def test_standin_is_a_plain_hf_dir_without_gene_tokens(standin):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(standin)
    model = AutoModelForCausalLM.from_pretrained(standin)
    assert model.config.model_type == "gemma2" and not hasattr(model.config, "auto_map")
    assert model.get_input_embeddings().num_embeddings == len(tok)
    assert len(tok(" CD3D CD3E MALAT1 ILF3-AS1", add_special_tokens=False)["input_ids"]) > 4  # genes are sub-words


@pytest.mark.slow
def test_zero_shot_evaluate_on_a_new_h5ad_in_one_command(standin, new_h5ad, tmp_path):
    out = tmp_path / "eval"
    _run(
        [
            "evaluate.py",
            f"ckpt={standin}",
            "data=h5ad",
            f"data.path={new_h5ad}",
            "data.cell_type_key=annotation",
            "prompt_format=c2s_scale",
            "tasks=[cell_type_annotation]",
            "max_examples=24",
            "bootstrap=50",
            "embeddings=false",
            f"out_dir={out}",
        ]
    )
    assert (out / "report.md").is_file() and "zero-shot" in (out / "report.md").read_text()
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and {r["task"] for r in rows} == {"cell_type_annotation"}
    assert all(r["prompt"].startswith("The following is a list of") and r["reference"].endswith(".") for r in rows)
    report = json.loads((out / "report.json").read_text())["tasks"]["cell_type_annotation"]
    assert {"majority", "knn_pca"} <= set(report["baselines"])
    assert not (standin / "README.md").exists()  # nothing written into the checkpoint


@pytest.mark.slow
def test_lora_finetune_keeps_the_vocabulary_and_raises_held_out_accuracy(standin, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = tmp_path / "run"
    _run(
        [
            "train.py",
            "experiment=finetune_c2s_scale",
            "model=gemma2-tiny",
            f"model.name_or_path={standin}",
            f"run_dir={run}",
            f"shards_root={tmp_path}/shards",
            "logger=csv",
            "top_k=30",
            "tasks.options.genes_per_cell=30",
            "tasks.names=[cell_type_annotation]",
            "stages.sft.max_seq_len=512",
            "stages.sft.batch_size=8",
            "stages.sft.optimizer.lr=5e-3",
            "stages.sft.max_epochs=8",
        ]
    )
    export = run / "sft" / "hf"
    base_tok, tuned_tok = AutoTokenizer.from_pretrained(standin), AutoTokenizer.from_pretrained(export)
    tuned = AutoModelForCausalLM.from_pretrained(export)
    assert len(tuned_tok) == len(base_tok) == tuned.get_input_embeddings().num_embeddings
    assert tuned_tok.get_vocab() == base_tok.get_vocab()
    assert "c2s_scale" in (export / "README.md").read_text()
    shards = json.loads((export / "c2s_meta.json").read_text())["shards"]
    for ckpt, name in ((standin, "before"), (export, "after")):  # the same held-out examples
        _run(
            [
                "evaluate.py",
                f"ckpt={ckpt}",
                f"shards={shards}",
                "bootstrap=50",
                "embeddings=false",
                f"out_dir={tmp_path}/{name}",
                "tasks=[cell_type_annotation]",
            ]
        )
    before, after = _accuracy(tmp_path / "before"), _accuracy(tmp_path / "after")
    assert after > before + 0.2, (before, after)


@pytest.mark.slow
def test_lora_finetune_under_fsdp(standin, tmp_path):
    """2 CPU processes (gloo): LoRA adapters train under FSDP2 and the export merges them."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    run = tmp_path / "run"
    proc = _run(
        [
            "train.py",
            "experiment=finetune_c2s_scale",
            "model=gemma2-tiny",
            f"model.name_or_path={standin}",
            f"run_dir={run}",
            f"shards_root={tmp_path}/shards",
            "logger=csv",
            "top_k=20",
            "tasks.options.genes_per_cell=20",
            "tasks.names=[cell_type_annotation]",
            "stages.sft.max_seq_len=256",
            "stages.sft.batch_size=4",
            "stages.sft.max_steps=6",
            "stages.sft.optimizer.lr=5e-3",
            "strategy=fsdp",
            "strategy.accelerator=cpu",
            "strategy.devices=2",
        ]
    )
    summary = json.loads((run / "sft" / "summary.json").read_text())
    assert summary["steps"] == 6 and 0 < summary["parameters"]["trainable"] < summary["parameters"]["total"]
    before, after = load_file(standin / "model.safetensors"), load_file(run / "sft" / "hf" / "model.safetensors")
    assert not any("lora" in k for k in after)  # merged
    assert sorted(before) == sorted(after)
    changed = [k for k in before if not np.allclose(before[k].numpy(), after[k].numpy())]
    assert changed and all("proj" in k for k in changed), changed  # only the adapted projections moved
    assert (
        AutoModelForCausalLM.from_pretrained(run / "sft" / "hf").get_input_embeddings().num_embeddings
        == AutoModelForCausalLM.from_pretrained(standin).get_input_embeddings().num_embeddings
    )
    assert "Traceback" not in proc.stderr


def test_a_resolved_gene_list_is_reused_with_its_warnings(caplog):
    var = pd.DataFrame(index=["HLA DRA", "Actb", "Actb"])
    first = resolve_gene_names(var, var.index, None)
    caplog.clear()
    again = resolve_gene_names(var, var.index, None)
    assert list(again) == list(first) == ["HLA_DRA", "Actb", "Actb-1"]
    assert again is not first  # a copy: a caller's edit cannot reach the cache
    assert "contain whitespace" in caplog.text and "made unique" in caplog.text  # logged again
    missing = pd.DataFrame({"sym": ["HLA DRA", None, "Actb"]}, index=["a", "b", "c"])
    named = pd.DataFrame({"sym": ["HLA DRA", "None", "Actb"]}, index=["a", "b", "c"])  # same text, no gap
    assert list(resolve_gene_names(named, named.index, "sym")) == ["HLA_DRA", "None", "Actb"]
    with pytest.raises(C2SInputError, match="empty or missing name"):
        resolve_gene_names(missing, missing.index, "sym")
