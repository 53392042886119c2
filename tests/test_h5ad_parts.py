"""A backed .h5ad read part by part (c2s.io.h5ad_parts) gives what the in-memory AnnData gives."""

import logging

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from c2s.corpus.build import build_corpus
from c2s.errors import C2SInputError
from c2s.io import h5ad_parts
from c2s.io.anndata_io import ExpressionSource
from c2s.io.h5ad_parts import H5adParts
from c2s.io.synthetic import make_synthetic
from tests.conftest import SYNTHETIC_DATA


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    """Synthetic cells with a missing label, string/int/bool obs columns, a layer and .raw."""
    a = make_synthetic(n_cells=300, n_genes=60, seed=4)
    a.obs["note"] = [f"n{i % 7}" if i % 11 else None for i in range(a.n_obs)]
    a.obs["count"] = np.arange(a.n_obs) * 3
    a.obs["flag"] = np.arange(a.n_obs) % 2 == 0
    a.obs.loc[a.obs_names[5], "cell_type"] = None
    a.layers["counts"] = a.X.copy()
    a.raw = a.copy()
    a.X = a.X.astype(np.float32) * 0.5
    path = tmp_path_factory.mktemp("rich") / "rich.h5ad"
    a.write_h5ad(path)
    return ad.read_h5ad(path), path


def test_metadata_equals_the_in_memory_anndata(rich, monkeypatch):
    mem, path = rich
    monkeypatch.setattr(h5ad_parts, "ID_ROWS", 7)  # many id chunks, some with no wanted row
    m, b = ExpressionSource(mem), ExpressionSource(path, backed=True)
    assert b.adata is None  # nothing loaded through anndata
    assert b.obs_keys == m.obs_keys
    for key in m.obs_keys:
        assert b.obs_column(key).astype(object).tolist() == m.obs_column(key).astype(object).tolist(), key
    rows = np.sort(np.random.default_rng(0).choice(mem.n_obs, 90, replace=False))
    assert b.cell_ids(rows).to_pylist() == list(mem.obs_names[rows])
    assert b.cell_ids(np.zeros(0, np.int64)).to_pylist() == []
    np.testing.assert_array_equal(b.obsm("spatial"), mem.obsm["spatial"])
    assert b.obsm("umap") is None
    assert b.uns("description") == mem.uns["description"]
    assert b.uns("abstract") is None


@pytest.mark.parametrize("pick", [{}, {"layer": "counts"}, {"use_raw": True}])
def test_matrices_equal_and_stay_on_disk(rich, pick):
    mem, path = rich
    m, b = ExpressionSource(mem, **pick), ExpressionSource(path, backed=True, **pick)
    assert not sp.issparse(b._m)  # a backed dataset: anndata's backed mode loads layers into memory
    assert (b.where, b.kind, list(b.gene_names)) == (m.where, m.kind, list(m.gene_names))
    for (s1, e1, x1), (s2, e2, x2) in zip(m.iter_chunks(64), b.iter_chunks(64)):
        assert (s1, e1) == (s2, e2)
        np.testing.assert_array_equal(x1.toarray(), x2.toarray())
    rows = np.array([3, 40, 41, 299])
    np.testing.assert_array_equal(m.read_rows(rows).toarray(), b.read_rows(rows).toarray())


def test_missing_layer_names_the_ones_there(rich):
    _, path = rich
    with pytest.raises(C2SInputError, match=r"Layer 'spliced' not found.*\['counts'\].*use_raw=True"):
        ExpressionSource(path, backed=True, layer="spliced")


def test_corpus_from_a_backed_file_equals_in_memory(rich, tmp_path):
    mem, path = rich
    data = {**SYNTHETIC_DATA, "path": str(path), "matrix_kind": "auto"}
    a = build_corpus({**data, "backed": True}, top_k=20, store_dir=tmp_path / "a", progress=False)
    b = build_corpus({**data, "backed": False}, top_k=20, store_dir=tmp_path / "b", progress=False)
    assert a.cell_ids.to_pylist() == b.cell_ids.to_pylist()
    np.testing.assert_array_equal(a.split, b.split)
    np.testing.assert_array_equal(a.spatial, b.spatial)
    assert a.description == b.description and a.gene_sets == b.gene_sets
    for role, (cats, codes) in b.roles.items():
        np.testing.assert_array_equal(a.roles[role][0], cats)
        np.testing.assert_array_equal(a.roles[role][1], codes)
    assert "unknown" in list(a.roles["cell_type"][0])  # the missing label


def test_backed_csc_is_read_once_as_csr(tmp_path, caplog):
    x = sp.random(50, 30, density=0.3, format="csc", dtype=np.float32, random_state=0)
    x.data = np.ceil(x.data * 5)
    path = tmp_path / "csc.h5ad"
    ad.AnnData(x, var=pd.DataFrame(index=[f"G{j}" for j in range(30)])).write_h5ad(path)
    with caplog.at_level(logging.WARNING):
        src = ExpressionSource(path, backed=True)
    assert "column-major" in caplog.text and sp.isspmatrix_csr(src._m)
    np.testing.assert_array_equal(src._raw_rows(0, 50).toarray(), x.toarray())


def test_an_obs_without_the_dataframe_encoding_goes_to_anndata(rich, tmp_path):
    _, path = rich
    old = tmp_path / "old.h5ad"
    old.write_bytes(path.read_bytes())
    with h5py.File(old, "r+") as f:
        del f["obs"].attrs["encoding-type"]
    assert H5adParts.open(old) is None
    assert H5adParts.open(path) is not None
    # anndata reads it (and here refuses it: the attribute is gone), with our clear error around its own
    with pytest.raises(C2SInputError, match="could not be read as an h5ad file.*IORegistryError"):
        ExpressionSource(old, backed=True)
