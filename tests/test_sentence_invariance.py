"""Identical sentences whatever the storage: dense/CSR, sorted/unsorted indices, memory/backed."""

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from c2s.sentences import cell_sentence_indices


def _same(a, b):
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_array_equal(a.cell_ids, b.cell_ids)


def _with_ties(pbmc):
    # round to 1 decimal so many genes tie within a cell: the tie-break is exercised
    x = pbmc.raw.X.copy()
    x.data = np.round(x.data, 1)
    return ad.AnnData(x, obs=pbmc.obs[[]], var=pbmc.raw.var[[]])


@pytest.fixture(scope="module")
def tied(pbmc):
    return _with_ties(pbmc)


def test_dense_vs_csr(tied):
    dense = ad.AnnData(tied.X.toarray(), obs=tied.obs, var=tied.var)
    _same(cell_sentence_indices(tied, top_k=50), cell_sentence_indices(dense, top_k=50))


def test_sorted_vs_unsorted_indices(tied):
    rng = np.random.default_rng(1)
    x = tied.X.tocsr()
    indptr, indices, data = x.indptr.copy(), x.indices.copy(), x.data.copy()
    for i in range(x.shape[0]):  # shuffle entries within each row
        s, e = indptr[i], indptr[i + 1]
        p = rng.permutation(e - s) + s
        indices[s:e], data[s:e] = indices[p], data[p]
    shuffled = sp.csr_matrix((data, indices, indptr), shape=x.shape)
    assert not shuffled.has_sorted_indices
    other = ad.AnnData(shuffled, obs=tied.obs, var=tied.var)
    _same(cell_sentence_indices(tied, top_k=50), cell_sentence_indices(other, top_k=50))


def test_memory_vs_backed_and_chunking(tied, tmp_path):
    path = tmp_path / "tied.h5ad"
    tied.write_h5ad(path)
    mem = cell_sentence_indices(tied, top_k=50)
    _same(mem, cell_sentence_indices(path, top_k=50, backed=True, chunk_size=97))
    _same(mem, cell_sentence_indices(ad.read_h5ad(path, backed="r"), top_k=50, chunk_size=1))
    _same(mem, cell_sentence_indices(path, top_k=50, chunk_size=10_000))


def test_independent_of_global_rng(tied):
    np.random.seed(0)
    a = cell_sentence_indices(tied, top_k=50)
    np.random.seed(12345)
    np.random.rand(1000)
    _same(a, cell_sentence_indices(tied, top_k=50))


def test_input_not_mutated(counts_adata):
    before = counts_adata.X.copy()
    cell_sentence_indices(counts_adata, top_k=10)
    assert (counts_adata.X != before).nnz == 0


def test_float32_fast_path_equals_general_path(tied):
    # float32 data takes the bit-key kernel; float64 the general one: same rule, same output
    x64 = tied.X.astype(np.float64)
    assert tied.X.dtype == np.float32
    _same(
        cell_sentence_indices(tied, top_k=50),
        cell_sentence_indices(ad.AnnData(x64, obs=tied.obs, var=tied.var), top_k=50),
    )
