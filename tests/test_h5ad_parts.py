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
    """Synthetic cells with non-ASCII ids, a missing label, string/int/bool obs columns, a layer and .raw."""
    a = make_synthetic(n_cells=300, n_genes=60, seed=4)
    a.obs_names = [f"{n}-naïve-細胞" if i % 3 == 0 else n for i, n in enumerate(a.obs_names)]  # UTF-8 ids
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


def test_dense_rows_equal_and_stay_on_disk(tmp_path):
    mem = make_synthetic(n_cells=120, n_genes=40, seed=2)
    mem.X = mem.X.toarray()
    path = tmp_path / "dense.h5ad"
    mem.write_h5ad(path)
    m, b = ExpressionSource(mem), ExpressionSource(path, backed=True)
    assert isinstance(b._m, h5ad_parts.DenseRows)
    for (_, _, x1), (_, _, x2) in zip(m.iter_chunks(50), b.iter_chunks(50)):
        np.testing.assert_array_equal(x1.toarray(), x2.toarray())
    rows = np.array([0, 7, 119])
    np.testing.assert_array_equal(m.read_rows(rows).toarray(), b.read_rows(rows).toarray())


MANY = """
import resource, sys
from c2s.corpus.build import build_corpus
from c2s.io import h5ad_parts
h5ad_parts.MAX_OPEN = 8
resource.setrlimit(resource.RLIMIT_NOFILE, (40, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
data = {"name": "many", "path": sys.argv[1], "backed": True, "cell_type_key": "cell_type", "matrix_kind": "counts"}
c = build_corpus(data, top_k=10, store_dir=sys.argv[2], progress=False)
print(len(c.cell_ids), c.cell_ids[0], c.cell_ids[len(c.cell_ids) - 1])
"""


def test_a_directory_of_more_files_than_descriptors(tmp_path):
    """60 files, 40 descriptors: each used to stay open (Errno 24, 'Too many open files')."""
    import subprocess
    import sys

    for i in range(60):
        make_synthetic(n_cells=20, n_genes=30, seed=i).write_h5ad(tmp_path / f"part{i:02d}.h5ad")
    out = subprocess.run(
        [sys.executable, "-c", MANY, str(tmp_path), str(tmp_path / "store")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1200", "cell0-part00", "cell19-part59"]


def test_a_file_rewritten_while_read_is_an_error(rich, tmp_path):
    _, path = rich
    copy = tmp_path / "copy.h5ad"
    copy.write_bytes(path.read_bytes())
    src = ExpressionSource(copy, backed=True)
    assert src.obs_column("cell_type").size == 300
    make_synthetic(n_cells=50, n_genes=60, seed=9).write_h5ad(tmp_path / "new.h5ad")
    (tmp_path / "new.h5ad").replace(copy)  # other cells, same path
    with pytest.raises(C2SInputError, match="changed while it was being read"):
        src.obs_column("cell_type")
    assert ExpressionSource(copy, backed=True).n_obs == 50  # a new read sees the new file


@pytest.mark.parametrize("gap,span", [(1 << 10, 1 << 20), (0, 40), (10**9, 10**9)])
def test_csr_integer_rows_equal_anndata(rich, monkeypatch, gap, span):
    """Rows in runs of nearby rows (gap, span: every split, cut by size, one read) equal anndata's."""
    from anndata.io import sparse_dataset

    _, path = rich
    monkeypatch.setattr(h5ad_parts.CsrRows, "GAP", gap)
    monkeypatch.setattr(h5ad_parts.CsrRows, "SPAN", span)
    src = ExpressionSource(path, backed=True)
    ref = sparse_dataset(src._parts.file["X"]).to_memory()
    rng = np.random.default_rng(1)
    for rows in (
        np.sort(rng.choice(300, 40, replace=False)),
        rng.integers(0, 300, 50),  # unsorted, repeated
        np.arange(100, 180),  # a range
        np.array([299, 0]),
        np.zeros(0, np.int64),
        slice(10, 60, 7),
        np.arange(300) % 3 == 0,  # a mask: anndata's path
    ):
        got = src._m[rows]
        assert sp.isspmatrix_csr(got) and got.shape == ref[rows].shape
        np.testing.assert_array_equal(got.toarray(), ref[rows].toarray())


def test_build_corpus_leaves_no_file_open(rich, tmp_path):
    _, path = rich
    copy = tmp_path / "copy.h5ad"
    copy.write_bytes(path.read_bytes())
    kept = []  # a reference that outlives the call (a traceback or a notebook would hold one)
    real = h5ad_parts.H5adParts.__init__
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(h5ad_parts.H5adParts, "__init__", lambda self, p: kept.append(self) or real(self, p))
        build_corpus({**SYNTHETIC_DATA, "path": str(copy), "matrix_kind": "auto"}, top_k=10, progress=False)
    assert kept and copy not in h5ad_parts._OPEN
    make_synthetic(n_cells=40, n_genes=60, seed=3).write_h5ad(copy)  # in place: HDF5 refuses if still open
