"""The second bad-input catalogue, one test per finding class (signals and run locks: tests/test_signals.py;
benchmarks: tests/test_benchmarks.py). Each failed on the code before the fix."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from c2s.config.compose import compose_config
from c2s.data.prepare import prepare
from c2s.errors import C2SInputError
from c2s.io.labels import normalize_label
from c2s.io.synthetic import make_synthetic
from tests.conftest import make_counts, prepare_config

ROOT = Path(__file__).resolve().parents[1]


def _h5ad(tmp_path, adata, name="x.h5ad"):
    path = tmp_path / name
    adata.write_h5ad(path)
    return path


# 1. labels: never merged, cut or empty after the scoring normalisation
def test_labels_stay_distinct_after_normalisation(tmp_path, caplog):
    from c2s.corpus.build import build_corpus

    labels = ["NK cell", "nk CELL", "T cell. CD4+, naive", "T cell", "B cell\nmemory", "B cell", "", "Mono"]
    adata = make_counts(160, 40, seed=1)
    adata.obs["cell_type"] = [labels[i % len(labels)] for i in range(160)]
    with caplog.at_level(logging.WARNING):
        corpus = build_corpus({"name": "x", "path": str(_h5ad(tmp_path, adata)), "cell_type_key": "cell_type"})
    cats = corpus.roles["cell_type"][0]
    keys = [normalize_label(c) for c in cats]
    assert len(set(keys)) == len(keys) == 8  # 7 distinct labels + the empty one, now 'unknown'
    assert "unknown" in keys and "" not in keys and "t cell, cd4+, naive" in keys and "b cell memory" in keys
    assert "label(s) renamed" in caplog.text and "'nk CELL' -> 'nk CELL (2)'" in caplog.text


# 4. what prepare drops is counted, named, and a task that renders nothing is listed as skipped
def test_qa_drops_are_counted_and_an_empty_task_is_skipped(tmp_path, caplog):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        "\n".join(
            [
                json.dumps({"question": "Q?", "answer": "A", "cell_ids": ["no-such-cell"]}),
                json.dumps({"question": 3, "answer": "A", "cell_ids": ["cell1"]}),
                json.dumps(["not", "an", "object"]),
            ]
        )
    )
    with caplog.at_level(logging.WARNING):
        out = prepare(prepare_config(tmp_path, f"data.qa_path={qa}", "tasks.names=[cell_lm,qa]"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert "qa" in manifest["skipped_tasks"]
    assert "2 of 3 QA items dropped (wrongly typed or missing fields): line 2" in caplog.text
    assert "1 of 1 QA items dropped (unknown cells): line 1" in caplog.text and "'no-such-cell'" in caplog.text


def test_control_value_no_cell_has_skips_perturbation_with_the_reason(tmp_path):
    out = prepare(prepare_config(tmp_path, "data.control_value=ctrl", "tasks.names=[cell_lm,perturbation_response]"))
    reason = json.loads((out / "manifest.json").read_text())["skipped_tasks"]["perturbation_response"]
    assert "control_value='ctrl' is not a value of the condition column" in reason


def test_repeated_obs_names_are_made_unique(tmp_path, caplog):
    from c2s.corpus.build import build_corpus

    adata = make_counts(50, 30)
    adata.obs_names = ["AAAC"] * 25 + [f"c{i}" for i in range(25)]
    with caplog.at_level(logging.WARNING):
        corpus = build_corpus({"name": "x", "path": str(_h5ad(tmp_path, adata))})
    ids = corpus.cell_ids.to_pylist()
    assert len(set(ids)) == len(ids) and ids[:3] == ["AAAC", "AAAC-1", "AAAC-2"]
    assert "cell names repeat" in caplog.text


# 5. an example longer than max_seq_len is never cut: dropped (counted) or refused
def test_overlong_examples_dropped_with_counts_or_refused(synthetic_shards):
    from c2s.data.datamodule import C2SDataModule

    dm = C2SDataModule(synthetic_shards, max_seq_len=40, batch_size=4)
    dm.setup()
    longest = int(dm.index("train").lengths.max())
    batch = next(iter(dm.train_dataloader()))
    assert dm.overlong_counts["train"] and sum(dm.overlong_counts["train"].values()) > 0
    assert (batch["labels"] != -100).any()
    refuse = C2SDataModule(synthetic_shards, max_seq_len=40, batch_size=4, overlong="refuse")
    refuse.setup()
    with pytest.raises(C2SInputError, match=rf"longer than max_seq_len=40 tokens \(longest {longest}"):
        refuse.train_dataloader()


# 6. files that lie about their structure are refused before any allocation
@pytest.mark.parametrize("backed", [True, False])
def test_lying_shape_and_indptr_are_refused(tmp_path, backed):
    from c2s.sentences import cell_sentence_indices

    path = _h5ad(tmp_path, make_counts(240, 30))
    with h5py.File(path, "a") as f:
        f["X"].attrs["shape"] = np.array([240, 10**9])
    with pytest.raises(C2SInputError, match=r"X declares shape \(240, 1000000000\), but obs and var give \(240, 30\)"):
        cell_sentence_indices(str(path), backed=backed)
    path = _h5ad(tmp_path, make_counts(240, 30), "b.h5ad")
    with h5py.File(path, "a") as f:
        ptr = f["X/indptr"][:]
        ptr[-1] += 1000
        del f["X/indptr"]
        f["X/indptr"] = ptr
    with pytest.raises(C2SInputError, match="X/indptr ends at .* but there are .* stored values"):
        cell_sentence_indices(str(path), backed=backed)


# 7. other tracebacks that are now one line
def test_nan_spatial_coordinates(tmp_path):
    from c2s.corpus.build import build_corpus

    adata = make_synthetic(n_cells=60)
    adata.obsm["spatial"][3] = np.nan
    with pytest.raises(C2SInputError, match=r"obsm\['spatial'\] has NaN or infinite coordinates for 1 of 60 cells"):
        build_corpus({"name": "x", "path": str(_h5ad(tmp_path, adata))})


def test_float16_x_is_read(tmp_path):
    from c2s.sentences import cell_sentence_indices

    path = _h5ad(tmp_path, make_counts(50, 20))
    with h5py.File(path, "a") as f:
        data = f["X/data"][:].astype(np.float16)
        del f["X/data"]
        f["X/data"] = data
    assert len(cell_sentence_indices(str(path), backed=True)) == 50
    with pytest.raises(C2SInputError, match="sparse float16 matrix.*data.backed=true"):
        cell_sentence_indices(str(path), backed=False)


def test_gmt_that_is_not_text(tmp_path):
    from c2s.corpus.gene_sets import read_gmt

    gmt = tmp_path / "sets.gmt"
    gmt.write_bytes(b"\xff\xfe\x00binary\x89PNG")
    with pytest.raises(C2SInputError, match="is not UTF-8 text"):
        read_gmt(gmt, {"A"})


def test_symlink_where_an_export_goes_is_refused(tmp_path):
    from c2s.atomic import atomic_dir

    target = tmp_path / "precious"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    (tmp_path / "hf").symlink_to(target)
    with pytest.raises(C2SInputError, match="is a symbolic link"):
        with atomic_dir(tmp_path / "hf"):
            pass
    assert (target / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("loss", ["NaN", "Infinity", "null", "-1.0", '"low"'])
def test_scaling_report_leaves_bad_runs_out(tmp_path, loss):
    from c2s.scaling.report import scaling_report

    for i, (n, value) in enumerate([(1e5, "3.1"), (2e5, "2.9"), (4e5, "2.7"), (8e5, loss)]):
        d = tmp_path / "sweep" / f"run{i}"
        d.mkdir(parents=True)
        (d / "result.json").write_text(
            f'{{"non_embedding_params": {n}, "params": {n * 2}, "tokens": 1e6, "flops": {6e6 * n}, '
            f'"val_loss": {value}, "model": "m{i}"}}'
        )
    report = scaling_report(tmp_path / "sweep", None, 20)
    assert len(report["runs"]) == 3 and report["excluded"][0]["path"].endswith("run3")
    assert "left out" in (tmp_path / "sweep" / "scaling.md").read_text()


# 8. config import targets: checked before any work, exit 2
@pytest.mark.parametrize(
    "override, message",
    [
        ("stages.pretrain.optimizer._target_=os.system", r"optimizer._target_='os.system' is not one of"),
        ("+model._target_=os.system", "Unknown config key.*model._target_"),
    ],
)
def test_import_targets_checked_before_work(override, message, tmp_path):
    out = subprocess.run(
        [sys.executable, "train.py", override, f"run_dir={tmp_path}/r", f"shards_root={tmp_path}/s"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    err = out.stdout + out.stderr
    assert out.returncode == 2 and "Traceback" not in err, err[-2000:]
    assert __import__("re").search(message, err), err[-2000:]
    assert not (tmp_path / "s").exists()  # no data work happened


# 9. names that become path components
@pytest.mark.parametrize("name", ["../../x", "/abs/x", "a/b", ".."])
def test_data_name_is_one_plain_component(name, tmp_path):
    from train import validate

    with pytest.raises(C2SInputError, match="data.name=.* must be one plain name"):
        validate(compose_config("train", [f"data.name={name}", f"shards_root={tmp_path}"]))


# 10. README promise: top_k above the genes is clamped with a warning
def test_top_k_above_the_genes_warns_in_prepare(tmp_path, caplog):
    from c2s.corpus.build import build_corpus

    with caplog.at_level(logging.WARNING):
        build_corpus({"name": "x", "path": str(_h5ad(tmp_path, make_counts(40, 30)))}, top_k=500)
    assert "top_k=500 exceeds the 30 genes in the matrix; using top_k=30" in caplog.text
    assert os.path.exists(tmp_path / "x.h5ad")
