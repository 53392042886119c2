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


def _census(root, files):
    """A local collection laid out like the Census: census_data/homo_sapiens and census_info/datasets."""
    import pandas as pd
    import pyarrow as pa
    import tiledbsoma as soma

    uri = str(root / "census")
    soma.Collection.create(uri).close()
    with soma.Collection.open(uri, "w") as c:
        c.add_new_collection("census_data")
        info = c.add_new_collection("census_info")
        schema = pa.schema(
            [
                ("dataset_id", pa.large_string()),
                ("dataset_title", pa.large_string()),
                ("collection_name", pa.large_string()),
                ("citation", pa.large_string()),
            ]
        )
        table = info.add_new_dataframe("datasets", schema=schema, index_column_names=["soma_joinid"], domain=[(0, 1)])
        table.write(
            pa.Table.from_pandas(
                pd.DataFrame(
                    {
                        "soma_joinid": [0, 1],
                        "dataset_id": ["ds-a", "ds-b"],
                        "dataset_title": ["Lung atlas", "Blood atlas"],
                        "collection_name": ["Lungs", "Blood"],
                        "citation": ["Doe 2024", "Roe 2025"],
                    }
                ),
                preserve_index=False,
            )
        )
    exp = _experiment(root, files)
    with soma.Collection.open(f"{uri}/census_data", "w") as data:
        data.set("homo_sapiens", soma.Experiment.open(exp), use_relative_uri=False)
    return uri


def _census_files(tmp_path):
    (tmp_path / "h5ad").mkdir(exist_ok=True)
    paths = []
    for seed, ds in ((1, "ds-a"), (2, "ds-b")):
        path = tmp_path / "h5ad" / f"{ds}.h5ad"
        adata = _write(path, seed)
        adata.obs["dataset_id"] = ds
        adata.obs["tissue_general"] = adata.obs["tissue"]
        adata.obs["donor_id"] = adata.obs["donor"]
        adata.obs["is_primary_data"] = np.arange(adata.n_obs) % 10 != 0  # every 10th cell is a duplicate
        adata.write_h5ad(path)
        paths.append(path)
    return paths


def test_census_config_composes_against_a_local_census(tmp_path, caplog):
    import logging

    from c2s.corpus.build import build_corpus

    uri = _census(tmp_path, _census_files(tmp_path))
    cfg = prepare_config(tmp_path, "data=census", f"data.uri={uri}", "data.census_organism=homo_sapiens", TASKS)
    assert cfg.data.organism == "human" and cfg.data.census_version == "2025-01-30"
    with caplog.at_level(logging.INFO):
        corpus = build_corpus(cfg.data)
    assert "300 cells match the filter; 270 are primary data, 30 duplicates" in caplog.text
    assert len(corpus.sentences) == 2 * (150 - 15)  # is_primary_data == True only
    assert set(corpus.labels("dataset")) == {"ds-a", "ds-b"}
    assert corpus.dataset_text["ds-a"] == "Lung atlas. Lungs. Doe 2024."
    lung = prepare_config(tmp_path, "data=census", f"data.uri={uri}", "data.obs_value_filter=\"dataset_id == 'ds-a'\"")
    assert len(build_corpus(lung.data).sentences) == 135
    csv = tmp_path / "text.csv"
    csv.write_text("dataset_id,text\nds-b,An abstract of the blood study.\n")
    over = prepare_config(tmp_path, "data=census", f"data.uri={uri}", f"data.dataset_text_csv={csv}")
    assert build_corpus(over.data).dataset_text["ds-b"] == "An abstract of the blood study."


def test_dataset_text_feeds_the_dataset_tasks(tmp_path):
    uri = _census(tmp_path, _census_files(tmp_path))
    out = prepare(
        prepare_config(
            tmp_path,
            "data=census",
            f"data.uri={uri}",
            "tasks.names=[dataset_interpretation,nl_interpretation,sample_generation_description]",
        )
    )
    rows = [r for f in sorted(out.glob("*dataset_interpretation*.parquet")) for r in pq.read_table(f).to_pylist()]
    texts = {r["target"].split(" Cell types")[0] for r in rows}
    assert texts == {"Lung atlas. Lungs. Doe 2024.", "Blood atlas. Blood. Roe 2025."}
    prompts = [
        r["prompt"]
        for f in sorted(out.glob("*sample_generation_description*.parquet"))
        for r in pq.read_table(f).to_pylist()
    ]
    assert any("Lung atlas" in p for p in prompts) and any("Blood atlas" in p for p in prompts)


def test_census_offline_and_latest_are_refused(tmp_path):
    from c2s.corpus.build import build_corpus

    with pytest.raises(Exception, match="latest would change under you"):
        prepare_config(tmp_path, "data=census", "data.census_version=latest")
    cfg = prepare_config(tmp_path, "data=census")  # no local copy: the hub, which is not reachable here
    with pytest.raises(C2SInputError, match="data.uri=<|cellxgene-census"):
        build_corpus(cfg.data)


def test_soma_bytes_do_not_depend_on_workers_or_chunks(files, tmp_path):
    exp = _experiment(tmp_path, files)
    one = prepare(_soma(tmp_path / "a", exp, "workers=1", "chunk_size=64"))
    two = prepare(_soma(tmp_path / "b", exp, "workers=2", "chunk_size=4096"))
    sums = lambda d: {k: v["sha256"] for k, v in json.loads((d / "manifest.json").read_text())["files"].items()}  # noqa: E731
    assert sums(one) == sums(two)
