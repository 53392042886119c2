"""Extending c2s from outside the package (CONTRIBUTING.md): a data source, a task and a reward, each defined in
this test module and registered, then used through config overrides only, in one real training job (pre-training,
then GRPO with the new reward) and an evaluation of the new task."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sp

from c2s.config.compose import compose_config
from c2s.corpus.corpus import Corpus
from c2s.errors import C2SInputError
from c2s.io.anndata_io import lognormalise_counts
from c2s.io.sources import SOURCES, SourceKind, register_source
from c2s.rewards import REWARDS, register_reward
from c2s.scoring.metric import ACCURACY
from c2s.tasks import REGISTRY, Task, register_task
from c2s.tasks.base import Genes
from tests.conftest import make_counts


# ---- a data source: counts in a .npz file (not AnnData), read through the Source protocol ------------------
class NpzCounts:
    """``counts`` (cells × genes, dense integers), ``genes``, ``tissue`` and ``ids`` arrays in one .npz."""

    where, kind = "npz counts", "counts"

    def __init__(self, path: str) -> None:
        z = np.load(path, allow_pickle=False)
        self._x, self._tissue, self._ids = z["counts"], z["tissue"], z["ids"]
        self.gene_names = [str(g) for g in z["genes"]]

    n_obs = property(lambda self: self._x.shape[0])
    n_vars = property(lambda self: self._x.shape[1])
    obs_keys = property(lambda self: ["tissue"])

    def obs_column(self, key: str) -> pd.Series:
        return pd.Series(self._tissue.astype(str))

    def cell_ids(self, rows: np.ndarray) -> pa.Array:
        return pa.array(self._ids[rows].astype(str), pa.string())

    def obsm(self, key: str) -> None:
        return None

    def uns(self, key: str) -> None:
        return None

    def iter_chunks(self, chunk_size: int = 512) -> Iterator[tuple[int, int, sp.csr_matrix]]:
        for start in range(0, self.n_obs, chunk_size):
            stop = min(start + chunk_size, self.n_obs)
            yield start, stop, lognormalise_counts(sp.csr_matrix(self._x[start:stop]))

    def read_rows(self, rows: np.ndarray) -> sp.csr_matrix:
        return lognormalise_counts(sp.csr_matrix(self._x[np.sort(rows)]))

    def close(self) -> None:
        pass


def _npz_check(part: str) -> None:
    if not Path(part.split(":", 1)[1]).is_file():
        raise C2SInputError(f"data.path={part!r}: no such .npz file.")


# ---- a task: which tissue is this cell from? -----------------------------------------------------------
class TissueOfCell(Task):
    name = "tissue_of_cell"
    kind = "single_cell"
    metric = ACCURACY
    target_field = "tissue"
    requires = ("tissue",)
    templates = ("Which tissue is this cell from? {sentence}",)

    def records(self, corpus: Corpus, split: str, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        cats, codes = corpus.roles["tissue"]
        for c in corpus.cells(split):
            yield {
                "cells": np.array([c]),
                "sentence": Genes(np.array([c]), self.opt.genes_per_cell),
                "tissue": cats[codes[c]],
            }


# ---- a reward with a parameter: short answers ------------------------------------------------------------
@dataclass
class ShortParams:
    max_words: int = 2


def _short(p: ShortParams, ctx):
    return lambda prompts, completions, **_: [float(len(c.split()) <= p.max_words) for c in completions]


@pytest.fixture
def registered():
    register_source(
        "npzcells",
        SourceKind(
            lambda p: [p],
            _npz_check,
            lambda p, o, up: NpzCounts(p.split(":", 1)[1]),
            lambda p: Path(p.split(":", 1)[1]),
        ),
    )
    register_task(TissueOfCell)
    register_reward("short_answer", ShortParams, _short)
    yield
    del SOURCES["npzcells"], REGISTRY["tissue_of_cell"], REWARDS["short_answer"]


def test_a_source_a_task_and_a_reward_from_outside(registered, tmp_path):
    from evaluate import run as evaluate
    from train import run

    adata = make_counts(240, 60, density=0.3, seed=3)
    tissue = np.where(np.arange(240) % 2 == 0, "lung", "liver")
    np.savez(
        tmp_path / "cells.npz",
        counts=adata.X.toarray().astype(np.int32),
        genes=np.asarray(adata.var_names, dtype=str),
        tissue=tissue,
        ids=np.asarray(adata.obs_names, dtype=str),
    )
    overrides = [
        "data=h5ad",
        f"data.path=npzcells:{tmp_path / 'cells.npz'}",
        "data.name=npz",
        "data.tissue_key=tissue",
        f"shards_root={tmp_path}/shards",
        f"run_dir={tmp_path}/run",
        "logger=none",
        "tasks.names=[cell_lm,tissue_of_cell]",
        "tasks.options.genes_per_cell=20",
        "top_k=20",
        "tokenizer.text_vocab_size=200",
        "workers=1",  # registered in this process only (a fixture): spawned prepare processes would not see them
        "~stage@stages.sft",
        "+stage@stages.grpo=grpo",
        "stages.pretrain.max_steps=4",
        "stages.pretrain.max_seq_len=256",
        "stages.grpo.max_steps=2",
        "stages.grpo.batch_size=2",
        "stages.grpo.grpo.group_size=2",
        "stages.grpo.grpo.max_new_tokens=4",
        "stages.grpo.grpo.eval_prompts=4",
        "~stages.grpo.task_mix.weights.cell_type_annotation",
        "+stages.grpo.task_mix.weights.tissue_of_cell=1.0",
        "+stages.grpo.grpo.rewards.short_answer={weight: 0.5, max_words: 1}",
    ]
    export = run(compose_config("train", overrides))
    manifest = json.loads(next((tmp_path / "shards").glob("npz-*/manifest.json")).read_text())
    assert manifest["counts"]["train"]["tissue_of_cell"] > 0
    summary = json.loads((tmp_path / "run" / "grpo" / "summary.json").read_text())
    assert set(summary["val_history"][-1]["rewards"]) == {"label_match", "short_answer"}
    report = evaluate(
        compose_config(
            "evaluate",
            [
                f"ckpt={export}",
                f"out_dir={tmp_path}/eval",
                "tasks=[tissue_of_cell]",
                "embeddings=false",
                "bootstrap=50",
            ],
        )
    )
    task = report["tasks"]["tissue_of_cell"]
    assert task["metric"] == "accuracy" and "majority" in task["baselines"]

    # the same source's data written again gives new shards (its identity is the file's bytes)
    np.savez(
        tmp_path / "cells.npz",
        counts=adata.X.toarray().astype(np.int32)[::-1],
        genes=np.asarray(adata.var_names, dtype=str),
        tissue=tissue,
        ids=np.asarray(adata.obs_names, dtype=str),
    )
    from c2s.data.prepare import prepare
    from train import validate

    again = prepare(validate(compose_config("train", overrides)))
    assert len(list((tmp_path / "shards").glob("npz-*"))) == 2 and again.exists()
