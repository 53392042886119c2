"""Gene coverage before generation: a model evaluated on genes it does not know says so (log, report.json,
report.md), names a case mismatch with the option that fixes it, and reports full coverage on its own data."""

import json
import logging

import pytest

from c2s.config.compose import compose_config
from c2s.eval.coverage import gene_coverage, match_case
from c2s.io.synthetic import make_synthetic
from c2s.tokenizer import train_gene_tokenizer
from tests.conftest import train_overrides


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    from train import run

    tmp = tmp_path_factory.mktemp("cov")
    overrides = train_overrides(
        tmp, "~stage@stages.sft", "stages.pretrain.max_steps=2", "tasks.names=[cell_type_annotation]"
    )
    return run(compose_config("train", overrides))


def _zero_shot(export, path, out, *extra):
    from evaluate import run

    return run(
        compose_config(
            "evaluate",
            [
                f"ckpt={export}",
                "data=h5ad",
                f"data.path={path}",
                "data.cell_type_key=cell_type",
                f"out_dir={out}",
                "tasks=[cell_type_annotation]",
                "max_examples=8",
                "baseline_examples=50",
                "bootstrap=20",
                "embeddings=false",
                "generation.max_new_tokens=4",
                *extra,
            ],
        )
    )


def test_coverage_by_hand():
    tok = train_gene_tokenizer(["some text about cells"] * 3, ["CD3E", "CD14", "MS4A1"], 40)
    cov = gene_coverage(tok, ["CD3E", "Cd14", "Ms4a1", "Xist"])
    assert (cov.n_known, cov.n_genes, cov.mode, cov.n_known_ignoring_case) == (1, 4, "whole", 3)
    assert cov.missing == ["Cd14", "Ms4a1", "Xist"] and any("gene_case=match_model" in c for c in cov.causes())
    assert match_case(["CD3E", "Cd14", "Xist", "cd3e"], tok) == (["CD3E", "CD14", "Xist", "cd3e"], 1)
    full = gene_coverage(tok, ["CD3E", "CD14"])
    assert full.fraction == 1.0 and full.causes() == []


def test_other_genes_zero_shot_warns_with_coverage(export, tmp_path, caplog):
    adata = make_synthetic(n_cells=120, seed=7)
    adata.var_names = [f"Xkr{j}" for j in range(adata.n_vars)]  # no gene of the model's vocabulary
    adata.write_h5ad(tmp_path / "other.h5ad")
    with caplog.at_level(logging.INFO):
        report = _zero_shot(export, tmp_path / "other.h5ad", tmp_path / "out")
    cov = report["gene_coverage"]
    assert cov["n_known"] == 0 and cov["n_genes"] > 0 and cov["fraction"] == 0.0
    assert f"0 of {cov['n_genes']} genes (0.0%) are in the model's vocabulary" in caplog.text
    assert "LOW GENE COVERAGE" in caplog.text and "organism" in caplog.text
    assert "several known sub-word tokens" not in caplog.text  # the old, misleading line
    md = (tmp_path / "out" / "report.md").read_text()
    assert (
        "Warning: low gene coverage" in md
        and json.loads((tmp_path / "out" / "report.json").read_text())["gene_coverage"]["causes"]
    )


def test_case_mismatch_is_named_and_fixed(export, tmp_path, caplog):
    adata = make_synthetic(n_cells=120, seed=7)
    adata.var_names = [g.lower() for g in adata.var_names]  # ifn0, g0, ... against the model's IFN0, G0, ...
    adata.write_h5ad(tmp_path / "lower.h5ad")
    with caplog.at_level(logging.INFO):
        report = _zero_shot(export, tmp_path / "lower.h5ad", tmp_path / "a")
    cov = report["gene_coverage"]
    assert cov["n_known"] == 0 and cov["n_known_ignoring_case"] > cov["n_genes"] / 2
    assert any("gene_case=match_model" in c for c in cov["causes"]) and "gene_case=match_model" in caplog.text
    fixed = _zero_shot(export, tmp_path / "lower.h5ad", tmp_path / "b", "gene_case=match_model")["gene_coverage"]
    assert fixed["n_known"] == cov["n_known_ignoring_case"] and fixed["causes"] == []


def test_own_test_split_has_full_coverage_and_no_warning(export, tmp_path, caplog):
    from evaluate import run

    with caplog.at_level(logging.INFO):
        report = run(
            compose_config(
                "evaluate",
                [
                    f"ckpt={export}",
                    f"out_dir={tmp_path}",
                    "max_examples=8",
                    "bootstrap=20",
                    "embeddings=false",
                    "generation.max_new_tokens=4",
                ],
            )
        )
    assert report["gene_coverage"]["fraction"] == 1.0 and "LOW GENE COVERAGE" not in caplog.text
    assert "(100.0%) are in the model's vocabulary" in (tmp_path / "report.md").read_text()
