"""Atlas-scale prepare: the same bytes for any worker count, chunk size or part split; token
ids equal to tokenizing the text; shards keyed by input bytes; HF datasets reads the shards."""

import json

import pytest

from c2s.cli.plan import job_plan
from c2s.data.assemble import _assemble, warm_up
from c2s.data.prepare import prepare
from c2s.data.shards import ShardSet
from c2s.io.synthetic import make_synthetic
from c2s.tokenizer import tokenizer_id, train_byte_bpe
from tests.conftest import compose, prepare_config

TASKS = (
    "tasks.names=[cell_lm,cell_type_annotation,multi_cell_lm,perturbation_response,"
    "spatial_neighbour_identification,gene_set_naming]"
)


def _sums(out):
    m = json.loads((out / "manifest.json").read_text())
    return {name: f["sha256"] for name, f in m["files"].items()}, m


def test_same_bytes_for_workers_chunks_and_parts(tmp_path):
    base = ["rows_per_shard=100", TASKS]
    one, m = _sums(prepare(prepare_config(tmp_path / "a", *base, "chunk_size=512")))
    assert m["token_dtype"] == "uint16" and len(one) > 20
    two, _ = _sums(prepare(prepare_config(tmp_path / "b", *base, "chunk_size=4096", "workers=2")))
    assert one == two
    # a SLURM array: the dry run plans one job per part, each runs alone, then a merge
    jobs, launcher = job_plan(
        ["data=synthetic", "step=render", "part=range(0,2)", "num_parts=2", "hydra/launcher=slurm"],
        config_name="prepare",
    )
    assert "SlurmLauncher" in launcher["_target_"] and [j[-1] for j in jobs] == ["part=0", "part=1"]
    cfg = lambda *o: prepare_config(tmp_path / "c", *base, *o)  # noqa: E731
    prepare(cfg("step=plan"))
    for job in jobs:
        prepare(cfg(*[o for o in job if o.startswith(("step=", "part=", "num_parts="))]))
    merged, _ = _sums(prepare(cfg("step=merge")))
    assert merged == one


def _check_ids(out):
    shards = ShardSet(out)
    tok = shards.tokenizer().backend_tokenizer
    n = 0
    for split in ("train", "val", "test"):
        for f in shards.files(split):
            for row in shards.read(f).to_pylist():
                assert tok.encode(row["prompt"], add_special_tokens=False).ids == row["prompt_ids"], row["task"]
                assert tok.encode(" " + row["target"], add_special_tokens=False).ids == row["target_ids"], row["task"]
                n += 1
    return n, shards.manifest


def test_token_space_equals_text_tokenization_every_task(tmp_path, qa_file):
    warm_up()  # a render worker's warm-up: it must load the very kernel that rendering then calls
    out = prepare(prepare_config(tmp_path, f"data.qa_path={qa_file}", "tasks.options.repeats=3"))
    assert len(_assemble.signatures) == 1
    n, m = _check_ids(out)
    assert m["skipped_tasks"] == {} and len(m["counts"]["train"]) == 19 and n > 2500
    assert m["text_tokenized_jobs"] == []  # the gene tokenizer is concatenation-safe for every task
    genes = json.loads((out / "genes.json").read_text())
    assert len(ShardSet(out).tokenizer()) <= 4 + 256 + 300 + len(genes)  # one token per gene that occurs


@pytest.mark.parametrize("add_genes", [True, False])
def test_pretrained_byte_level_tokenizer(tmp_path, add_genes):
    texts = [f"Cell {i}: gene expression of a human cell, type {i % 7}." for i in range(300)]
    train_byte_bpe(texts, vocab_size=400).save_pretrained(tmp_path / "base")
    n, m = _check_ids(
        prepare(
            prepare_config(
                tmp_path,
                TASKS,
                "tokenizer=pretrained",
                f"tokenizer.name_or_path={tmp_path}/base",
                f"tokenizer.add_genes={add_genes}",
            )
        )
    )
    assert n > 1000


def test_replaced_input_file_gets_new_shards(tmp_path):
    path = tmp_path / "data.h5ad"
    a = make_synthetic(n_cells=120)
    a.write_h5ad(path)
    over = [f"data.path={path}", "tasks.names=[cell_type_annotation]"]
    first = prepare(prepare_config(tmp_path, *over))
    assert prepare(prepare_config(tmp_path, *over)) == first
    a.obs["cell_type"] = a.obs["cell_type"].astype(str).str.upper()  # same path, new labels
    a.write_h5ad(path)
    second = prepare(prepare_config(tmp_path, *over))
    assert second != first
    targets = {r["target"] for r in ShardSet(second).rows("train", ["target"])}
    assert targets and all(t == t.upper() for t in targets)


def test_hf_datasets_reads_the_shards(synthetic_shards):
    from datasets import load_dataset

    shards = ShardSet(synthetic_shards)
    files = [str(f) for f in shards.files("train")]
    ds = load_dataset("parquet", data_files=files, split="train")
    assert ds.num_rows == sum(shards.counts("train").values())
    assert set(ds.column_names) >= {"prompt", "target", "task", "cell_ids", "meta", "n_tokens"}
    rows = shards.read(shards.files("train")[0]).to_pylist()  # ids joined back from the .tokens file
    assert [r["prompt"] for r in rows] == ds["prompt"][: len(rows)]
    assert all(r["n_tokens"] == 2 + len(r["prompt_ids"]) + len(r["target_ids"]) for r in rows)


def test_bad_input_found_by_the_plan_process_is_raised_here(tmp_path):
    """With workers > 1 the plan runs in a child process: its input error still reaches the
    caller as a C2SInputError naming the fix, and nothing is left behind."""
    from c2s.errors import C2SInputError

    with pytest.raises(C2SInputError, match="cell_type_key='nope' is not an obs column"):
        prepare(prepare_config(tmp_path, "workers=2", "data.cell_type_key=nope"))
    assert not [p for p in (tmp_path / "shards").iterdir() if not p.name.startswith(".input-hashes")]


def test_bad_step_and_part_are_refused(tmp_path):
    from c2s.errors import C2SInputError

    with pytest.raises(C2SInputError, match="part=2 must be in"):
        prepare(prepare_config(tmp_path, "part=2", "num_parts=2"))
    with pytest.raises(C2SInputError, match="step="):
        prepare(prepare_config(tmp_path, "step=convert"))
    assert compose("prepare", ["workers=3"]).workers == "3"


def test_marker_sets_and_inverse_fit_use_every_file(tmp_path):
    """A directory of two files is one dataset: a cell type and a gene found only in the second
    file get a marker set (columns mapped onto the union of genes), and the fit samples both."""
    import anndata as ad
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    from c2s.corpus.build import build_corpus
    from tests.conftest import make_counts

    (tmp_path / "in").mkdir()
    make_counts(150, 60, seed=1).write_h5ad(tmp_path / "in" / "a.h5ad")
    b = make_counts(150, 60, seed=2)
    x = sp.hstack([b.X, sp.csr_matrix(np.zeros((150, 1), np.float32))]).tolil()
    z = np.arange(150) < 40
    x[np.flatnonzero(z), 60] = 50.0  # ZGENE: high only in the Z cells of file b
    b = ad.AnnData(
        x.tocsr(),
        obs=b.obs.assign(cell_type=np.where(z, "Z", b.obs["cell_type"])),
        var=pd.DataFrame(index=[*b.var_names, "ZGENE"]),
    )
    b.write_h5ad(tmp_path / "in" / "b.h5ad")
    corpus = build_corpus(
        {"name": "two", "path": str(tmp_path / "in"), "cell_type_key": "cell_type"}, top_k=20, progress=False
    )
    assert "ZGENE" in corpus.gene_sets["Z markers"][:3]
    assert corpus.inverse_fit.n_cells == 300  # both files (the first alone has 150)


def test_extra_data_with_other_genes_renders_its_own_genes(tmp_path):
    """A second dataset (pbmc68k: 765 genes) beside the synthetic one (200 genes): different gene columns. Its
    rows name its own genes, their token ids are the text's (no fallback to text tokenization), and the
    vocabulary (genes.json) is the union by name."""
    pbmc = "{name: pbmc,path: 'scanpy:pbmc68k_reduced',use_raw: true,cell_type_key: bulk_labels}"
    out = prepare(prepare_config(tmp_path, "tasks.names=[cell_lm,cell_type_annotation]", f"extra_data=[{pbmc}]"))
    n, manifest = _check_ids(out)
    assert manifest["datasets"] == ["synthetic", "pbmc"] and not manifest["text_tokenized_jobs"]
    genes = set(json.loads((out / "genes.json").read_text()))
    shards = ShardSet(out)
    targets = [r["target"].split() for f in shards.files("train") for r in shards.read(f).to_pylist()]
    targets = [t for t in targets if len(t) > 3]  # cell_lm rows (annotation targets are labels)
    synthetic = [t for t in targets if all(g.startswith(("G", "IFN")) and g[-1].isdigit() for g in t)]
    assert 0 < len(synthetic) < len(targets)  # both datasets rendered
    assert {g for t in targets for g in t} <= genes and {"MS4A1", "IFN1"} <= genes


def test_plan_imports_neither_transformers_nor_scipy_stats(tmp_path):
    """Their imports cost the plan's critical path 0.55 s and 0.6 s (measured at 200k cells);
    the trained tokenizer is wrapped for transformers after the plan, by render or merge."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from c2s.data.prepare import plan\n"
        "from tests.conftest import prepare_config\n"
        f"plan(prepare_config({str(tmp_path)!r}, {TASKS!r}))\n"
        "print(sorted({'transformers', 'scipy.stats'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out
    shards = ShardSet(prepare(prepare_config(tmp_path, TASKS)))  # the plan above, rendered and merged
    assert tokenizer_id(shards.tokenizer()) == shards.manifest["tokenizer_id"]


def test_cells_of_several_files_get_file_qualified_ids(tmp_path):
    """Barcodes repeat across files: ids become <obs name>-<file stem>; stems shared by files in
    different folders use the path below the shared folder."""
    from c2s.corpus.build import build_corpus
    from tests.conftest import make_counts

    for sub, name in (("x", "a"), ("x", "b"), ("y", "a")):
        (tmp_path / sub).mkdir(exist_ok=True)
        make_counts(30, 40, seed=len(name + sub)).write_h5ad(tmp_path / sub / f"{name}.h5ad")
    data = {"name": "two", "path": str(tmp_path / "x"), "cell_type_key": "cell_type"}
    ids = build_corpus(data, top_k=10, progress=False).cell_ids.to_pylist()
    assert ids[0] == "cell0-a" and ids[-1] == "cell29-b" and len(set(ids)) == len(ids) == 60
    three = build_corpus({**data, "path": str(tmp_path / "*" / "*.h5ad")}, top_k=10, progress=False)
    assert {i.rsplit("-", 1)[1] for i in three.cell_ids.to_pylist()} == {"x/a", "x/b", "y/a"}
    one = build_corpus({**data, "path": str(tmp_path / "x" / "a.h5ad")}, top_k=10, progress=False)
    assert one.cell_ids.to_pylist()[:2] == ["cell0", "cell1"]  # one file: obs names as they are


def test_workers_auto_uses_the_cores_this_process_may_use(monkeypatch, caplog):
    import logging
    import os

    from c2s.data import cores

    monkeypatch.setattr(cores, "usable_memory", lambda: 64 << 30)
    monkeypatch.setattr(cores, "_cgroup_cpus", lambda: None)
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    with caplog.at_level(logging.INFO):
        assert cores.auto_workers(1_000_000) == affinity  # the affinity, not the node's count
    assert f"{affinity} usable cores" in caplog.text
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert cores.auto_workers(1_000_000) == 1
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    monkeypatch.setattr(cores, "_cgroup_cpus", lambda: 0.5)  # a fractional quota still gets one process
    assert cores.auto_workers(1_000_000) == 1
    monkeypatch.setattr(cores, "_cgroup_cpus", lambda: None)
    monkeypatch.setattr(cores, "usable_memory", lambda: cores.RESERVE_BYTES + cores.WORKER_BYTES)  # room for one
    assert cores.auto_workers(1_000_000) == 1
    monkeypatch.setattr(cores, "usable_memory", lambda: 64 << 30)
    assert cores.auto_workers(700) == 1  # small data: processes cost more than they save
    if affinity > 1:  # the work is cells x tasks: 100k cells of every default task get processes, of one task not
        assert cores.auto_workers(100_000) == affinity and cores.auto_workers(100_000, n_tasks=1) == 1
