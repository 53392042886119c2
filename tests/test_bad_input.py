"""Bad input: each case raises a message naming the problem and the fix, or is handled as documented."""

import logging

import anndata as ad
import numpy as np
import pytest
import scanpy as sc
import scipy.sparse as sp

from c2s.errors import C2SInputError
from c2s.io import ExpressionSource
from c2s.sentences import cell_sentence_indices, cell_sentences
from tests.conftest import make_counts, reference_topk


def test_scaled_pbmc_X_names_raw(pbmc):
    with pytest.raises(C2SInputError, match=r"adata\.X has negative values.*scaled.*use_raw=True"):
        cell_sentences(pbmc)


def test_negative_values_in_later_chunk():
    # past the rows read for detection: caught while streaming, naming the rows
    adata = make_counts(n_cells=1200, n_genes=50)
    x = adata.X.toarray()
    x[1150, 5] = -1.0
    bad = ad.AnnData(sp.csr_matrix(x), obs=adata.obs, var=adata.var)
    with pytest.raises(C2SInputError, match=r"rows 1088:1152\).*negative values"):
        cell_sentence_indices(bad, chunk_size=64)


def test_nan(counts_adata):
    x = counts_adata.X.toarray()
    x[3, 3] = np.nan
    with pytest.raises(C2SInputError, match="NaN or infinite"):
        cell_sentences(ad.AnnData(x, var=counts_adata.var))


def test_inf_in_layer(counts_adata):
    x = counts_adata.X.toarray()
    x[0, 1] = np.inf
    counts_adata.layers["counts"] = x
    with pytest.raises(C2SInputError, match=r"layers\['counts'\].*NaN or infinite"):
        cell_sentences(counts_adata, layer="counts")


def test_ensembl_ids_without_symbols(counts_adata):
    counts_adata.var_names = [f"ENSG{j:011d}" for j in range(counts_adata.n_vars)]
    with pytest.raises(C2SInputError, match="Ensembl gene IDs.*Map the IDs to gene symbols"):
        cell_sentences(counts_adata)
    counts_adata.var["feature_name"] = [f"SYM{j}" for j in range(counts_adata.n_vars)]
    with pytest.raises(C2SInputError, match="gene_key='feature_name'"):
        cell_sentences(counts_adata)
    assert cell_sentences(counts_adata, gene_key="feature_name")[0].startswith("SYM")


def test_missing_gene_key(counts_adata):
    with pytest.raises(C2SInputError, match=r"gene_key='symbol' is not a column of adata.var"):
        cell_sentences(counts_adata, gene_key="symbol")


def test_duplicate_gene_names_made_unique(counts_adata, caplog):
    names = list(counts_adata.var_names)
    names[1] = names[2] = names[0]  # three genes called GENE0
    counts_adata.var_names = names
    with caplog.at_level(logging.WARNING):
        cs = cell_sentence_indices(counts_adata, top_k=300)
    assert "2 duplicated gene symbols" in caplog.text
    assert list(cs.gene_names[:3]) == ["GENE0", "GENE0-1", "GENE0-2"]
    assert len(set(cs.gene_names)) == counts_adata.n_vars


def test_empty_cells_dropped_and_counted(counts_adata, caplog):
    x = counts_adata.X.toarray()
    x[[4, 10]] = 0
    adata = ad.AnnData(sp.csr_matrix(x), obs=counts_adata.obs, var=counts_adata.var)
    with caplog.at_level(logging.WARNING):
        cs = cell_sentence_indices(adata, top_k=20, chunk_size=8)
    assert cs.n_empty_dropped == 2 and len(cs) == adata.n_obs - 2
    assert "cell4" not in set(cs.cell_ids) and "cell10" not in set(cs.cell_ids)
    assert "Dropped 2 of 200 cells" in caplog.text


def test_missing_layer_lists_available(counts_adata):
    counts_adata.layers["spliced"] = counts_adata.X.copy()
    with pytest.raises(C2SInputError, match=r"Layer 'counts' not found. Available layers: \['spliced'\]"):
        cell_sentences(counts_adata, layer="counts")


def test_use_raw_without_raw(counts_adata):
    with pytest.raises(C2SInputError, match="has no .raw"):
        cell_sentences(counts_adata, use_raw=True)


def test_top_k_larger_than_genes_is_clamped(counts_adata, caplog):
    with caplog.at_level(logging.WARNING):
        cs = cell_sentence_indices(counts_adata, top_k=10_000)
    assert cs.top_k == counts_adata.n_vars and "exceeds the 300 genes" in caplog.text
    with pytest.raises(C2SInputError, match="top_k must be a positive integer"):
        cell_sentence_indices(counts_adata, top_k=0)


def test_counts_are_lognormalised_with_scanpy(counts_adata):
    src = ExpressionSource(counts_adata)
    assert src.kind == "counts"
    ((_, _, chunk),) = list(src.iter_chunks(10_000))
    ref = counts_adata.copy()
    sc.pp.normalize_total(ref, target_sum=1e4)
    sc.pp.log1p(ref)
    np.testing.assert_allclose(chunk.toarray(), ref.X.toarray(), rtol=1e-6)
    # ranking of counts equals ranking of the normalised matrix
    cs = cell_sentence_indices(counts_adata, top_k=30)
    np.testing.assert_array_equal(cs.indices[0, : cs.lengths[0]], reference_topk(ref.X[0].toarray()[0], 30))


def test_unlogged_normalised_data_refused(counts_adata):
    x = counts_adata.X.toarray()
    x = x / x.sum(1, keepdims=True) * 1e6
    with pytest.raises(C2SInputError, match="normalised but not log-transformed"):
        cell_sentences(ad.AnnData(x, var=counts_adata.var))
    assert cell_sentences(ad.AnnData(x, var=counts_adata.var), matrix_kind="lognorm", top_k=3)


def test_mixed_counts_matrix():
    adata = make_counts(n_cells=1200, n_genes=50)
    x = adata.X.toarray()
    x[1100:] += 0.5 * (x[1100:] > 0)
    with pytest.raises(C2SInputError, match="non-integer values in rows 1088:1152"):
        cell_sentences(ad.AnnData(sp.csr_matrix(x), var=adata.var), chunk_size=64)


def test_malformed_and_missing_h5ad(tmp_path, counts_adata):
    with pytest.raises(C2SInputError, match="nope.h5ad.: no such file"):
        cell_sentences(tmp_path / "nope.h5ad")
    path = tmp_path / "ok.h5ad"
    counts_adata.write_h5ad(path)
    truncated = tmp_path / "truncated.h5ad"
    truncated.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(C2SInputError, match="truncated.h5ad could not be read as an h5ad file"):
        cell_sentences(truncated)
    with pytest.raises(C2SInputError, match="only datasets bundled"):
        cell_sentences("scanpy:pbmc3k")


def test_matrix_kind_validated(counts_adata):
    with pytest.raises(C2SInputError, match="matrix_kind='tpm'"):
        cell_sentences(counts_adata, matrix_kind="tpm")


def test_gene_names_with_whitespace_are_mapped_and_named(counts_adata, caplog):
    names = list(counts_adata.var_names)
    names[:3] = ["HLA DRA", "CD3\tE", "MT\nCO1"]
    counts_adata.var_names = names
    with caplog.at_level(logging.WARNING):
        cs = cell_sentence_indices(counts_adata, top_k=300)
    assert list(cs.gene_names[:3]) == ["HLA_DRA", "CD3_E", "MT_CO1"]
    assert "3 gene names in var_names contain whitespace" in caplog.text and "'HLA DRA' -> 'HLA_DRA'" in caplog.text
    words = " ".join(cs.render(range(len(cs)))).split(" ")
    assert set(words) <= set(cs.gene_names)  # every word of every sentence is one gene


def test_number_like_gene_names(counts_adata, caplog):
    names = list(counts_adata.var_names)
    names[:2] = ["1", "100"]
    counts_adata.var_names = names
    with caplog.at_level(logging.WARNING):
        cs = cell_sentence_indices(counts_adata, top_k=300)
    assert list(cs.gene_names[:2]) == ["gene_1", "gene_100"] and "'100' -> 'gene_100'" in caplog.text
    counts_adata.var_names = [str(j) for j in range(counts_adata.n_vars)]  # a row index, not symbols
    with pytest.raises(C2SInputError, match="300 of 300 gene names in var_names are numbers.*gene_key"):
        cell_sentence_indices(counts_adata)


def _corpus(adata, tmp_path, **data):
    from c2s.corpus.build import build_corpus

    path = tmp_path / "x.h5ad"
    adata.write_h5ad(path)
    return build_corpus({"name": "x", "path": str(path), **data}, top_k=20, progress=False)


def test_label_column_of_ids_is_refused(counts_adata, tmp_path):
    counts_adata.obs["n_counts"] = np.asarray(counts_adata.X.sum(1)).ravel() + np.arange(counts_adata.n_obs) * 1e-3
    with pytest.raises(C2SInputError, match=r"cell_type_key='n_counts' has 200 distinct values in 200 cells \(100%\)"):
        _corpus(counts_adata, tmp_path, cell_type_key="n_counts")


def test_one_class_and_unseen_test_labels_are_warned(counts_adata, tmp_path, caplog):
    counts_adata.obs["one"] = "T"
    with caplog.at_level(logging.WARNING):
        _corpus(counts_adata, tmp_path, cell_type_key="one")
    assert "has one value ('T') in all 200 cells" in caplog.text
    caplog.clear()
    from c2s.corpus.splits import split_cells

    test = split_cells(counts_adata.n_obs, 0.1, 0.1, 0) == "test"  # the split build_corpus will make
    counts_adata.obs["ct"] = np.where(test, "rare", counts_adata.obs["cell_type"])
    with caplog.at_level(logging.WARNING):
        _corpus(counts_adata, tmp_path, cell_type_key="ct")
    assert (
        f"{int(test.sum())} of {int(test.sum())} test cells (100%) have a cell_type never seen in training (rare)"
        in caplog.text
    )


def test_one_cell_file_and_all_zero_matrix(counts_adata, tmp_path):
    with pytest.raises(C2SInputError, match="1 cells leave the val and test split"):
        _corpus(counts_adata[:1].copy(), tmp_path)
    zero = ad.AnnData(sp.csr_matrix(counts_adata.shape, dtype=np.float32), obs=counts_adata.obs, var=counts_adata.var)
    with pytest.raises(C2SInputError, match="No cell expresses any gene"):
        _corpus(zero, tmp_path)
