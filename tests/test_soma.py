"""A TileDB-SOMA experiment as a source (data=soma), against local experiments written with
tiledbsoma.io.from_h5ad (register and append): the same sentences and examples as the same cells from h5ad, filters
that select the right cells, a new write that gives new shards, and bad input that gets one line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from c2s.data.prepare import prepare
from c2s.errors import C2SInputError
from c2s.io.synthetic import make_synthetic
from tests.conftest import prepare_config

soma_io = pytest.importorskip("tiledbsoma.io")
ROOT = Path(__file__).resolve().parents[1]
TASKS = "tasks.names=[cell_lm,cell_type_annotation,conditional_cell_generation,multi_cell_lm]"


def _write(path, seed, n=150):
    adata = make_synthetic(n_cells=n, seed=seed)
    adata.obs_names = [f"s{seed}c{i}" for i in range(n)]
    adata.var["feature_name"] = adata.var_names
    del adata.obsm["spatial"]  # appending obsm needs an opt-in; the uns description has no SOMA home
    adata.uns = {}
    for col in ("cell_type", "tissue"):
        adata.obs[col] = adata.obs[col].astype("category")
    adata.write_h5ad(path)
    return adata


def _experiment(root, files):
    exp = str(root / "exp")
    soma_io.from_h5ad(exp, str(files[0]), measurement_name="RNA", X_layer_name="raw")
    for f in files[1:]:
        rd = soma_io.register_h5ads(
            exp, [str(f)], measurement_name="RNA", obs_field_name="obs_id", var_field_name="var_id"
        )
        rd.prepare_experiment(exp)
        soma_io.from_h5ad(exp, str(f), measurement_name="RNA", X_layer_name="raw", registration_mapping=rd)
    return exp


@pytest.fixture
def files(tmp_path):
    (tmp_path / "h5ad").mkdir()
    paths = [tmp_path / "h5ad" / "a.h5ad", tmp_path / "h5ad" / "b.h5ad"]
    _write(paths[0], 1)
    _write(paths[1], 2)
    return paths


def _texts(shards):
    out = {}
    for f in sorted(Path(shards).glob("*.parquet")):
        t = pq.read_table(f, columns=["prompt", "target"]).to_pydict()
        out[f.name] = list(zip(t["prompt"], t["target"]))
    return out


def _soma(tmp_path, exp, *extra):
    return prepare_config(
        tmp_path,
        "data=soma",
        f"data.uri={exp}",
        "data.cell_type_key=cell_type",
        "data.tissue_key=tissue",
        TASKS,
        *extra,
    )


def test_soma_gives_the_same_examples_as_the_h5ad_files(files, tmp_path):
    exp = _experiment(tmp_path, files)
    from_soma = prepare(_soma(tmp_path / "s", exp))
    from_h5ad = prepare(
        prepare_config(
            tmp_path / "h",
            "data=h5ad",
            f"data.path={files[0].parent}",
            "data.name=soma",
            "data.cell_type_key=cell_type",
            "data.tissue_key=tissue",
            TASKS,
        )
    )
    a, b = _texts(from_soma), _texts(from_h5ad)
    assert a.keys() == b.keys() and a == b  # sentences and examples; only the cell ids differ
    ids = json.loads((from_soma / "manifest.json").read_text())["n_cells"]
    assert ids == 300


def test_filters_select_the_right_cells(files, tmp_path):
    from c2s.corpus.build import build_corpus

    exp = _experiment(tmp_path, files)
    cfg = _soma(tmp_path, exp, "data.obs_value_filter=\"cell_type == 'B cell'\"")
    corpus = build_corpus(cfg.data)
    want = sum(int((make_synthetic(n_cells=150, seed=s).obs["cell_type"] == "B cell").sum()) for s in (1, 2))
    assert len(corpus.sentences) == want > 0
    cats, codes = corpus.roles["cell_type"]
    assert set(cats[np.unique(codes)]) == {"B cell"}
    assert corpus.cell_ids.to_pylist()[0].startswith("s1c")  # names from obs_id


def test_a_new_write_gives_new_shards(files, tmp_path):
    exp = _experiment(tmp_path, files[:1])
    first = prepare(_soma(tmp_path, exp))
    assert prepare(_soma(tmp_path, exp)) == first  # unchanged: reused
    rd = soma_io.register_h5ads(
        exp, [str(files[1])], measurement_name="RNA", obs_field_name="obs_id", var_field_name="var_id"
    )
    rd.prepare_experiment(exp)
    soma_io.from_h5ad(exp, str(files[1]), measurement_name="RNA", X_layer_name="raw", registration_mapping=rd)
    second = prepare(_soma(tmp_path, exp))
    assert second != first and json.loads((second / "manifest.json").read_text())["n_cells"] == 300


@pytest.mark.parametrize(
    "extra, message",
    [
        (["data.uri=/no/such/experiment"], "no such directory"),
        (["data.uri={plain}"], "is not a SOMA experiment"),
        (["data.obs_value_filter=\"cell_type === 'B'\""], "value filters .* could not be applied"),
        (["data.obs_value_filter=\"cell_type == 'Unicorn'\""], "selects no cell"),
        (["data.measurement=ATAC"], "measurement='ATAC' is not in"),
        (["data.cell_type_key=nope"], "cell_type_key='nope' is not an obs column"),
        (["data.layer=normalized"], "Layer 'normalized' not found"),
    ],
)
def test_bad_soma_input_is_one_line(files, tmp_path, extra, message):
    from c2s.corpus.build import build_corpus

    exp = _experiment(tmp_path, files[:1])
    (tmp_path / "plain").mkdir()
    extra = [e.format(plain=tmp_path / "plain") for e in extra]
    with pytest.raises(C2SInputError, match=message):
        build_corpus(_soma(tmp_path, exp, *extra).data)


def test_cli_exits_2_on_a_bad_filter(files, tmp_path):
    exp = _experiment(tmp_path, files[:1])
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "c2s.cli.prepare",
            "data=soma",
            f"data.uri={exp}",
            "data.obs_value_filter=cell_type ==",
            f"shards_root={tmp_path}/s",
            f"hydra.run.dir={tmp_path}/h",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr + out.stdout, out.stderr[-2000:]
