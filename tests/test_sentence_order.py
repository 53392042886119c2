"""Cell sentences follow expression order on real data, with the documented tie-break."""

import numpy as np
import pytest
import scipy.sparse as sp

from c2s.sentences import cell_sentence_indices, cell_sentences, topk_indices
from tests.conftest import reference_topk


@pytest.mark.parametrize("k", [1, 50, 100, 765])
def test_pbmc_raw_ordering_and_topk_set(pbmc, k):
    x = pbmc.raw.X.toarray()
    cs = cell_sentence_indices(pbmc, top_k=k, use_raw=True)
    assert cs.indices.dtype == np.int32 and cs.indices.shape == (pbmc.n_obs, k)
    assert list(cs.cell_ids) == list(pbmc.obs_names)
    for i in range(pbmc.n_obs):
        sel = cs.indices[i, : cs.lengths[i]]
        vals = x[i, sel]
        assert np.all(np.diff(vals) <= 0), f"cell {i}: expression increases along the sentence"
        assert np.all(vals > 0)
        n_expr = int((x[i] > 0).sum())
        assert cs.lengths[i] == min(k, n_expr)
        # same set as the true top-K, except for ties at the cut
        cut = vals[-1]
        assert set(np.flatnonzero(x[i] > cut)) <= set(sel)
        assert np.all(cs.indices[i, cs.lengths[i] :] == -1)


def test_matches_plain_reference_rule(pbmc):
    x = pbmc.raw.X.toarray()
    cs = cell_sentence_indices(pbmc, top_k=100, use_raw=True)
    for i in range(0, pbmc.n_obs, 7):
        np.testing.assert_array_equal(cs.indices[i, : cs.lengths[i]], reference_topk(x[i], 100))


def test_ties_broken_by_lower_gene_index():
    # columns 3, 1, 4 tie at 2.0; column 0 is highest; cut at k=3 keeps the lowest tied columns
    row = np.array([[5.0, 2.0, 0.0, 2.0, 2.0, 1.0]])
    idx, n = topk_indices(sp.csr_matrix(row), 3)
    assert n[0] == 3 and idx[0].tolist() == [0, 1, 3]
    idx, n = topk_indices(sp.csr_matrix(row), 10)
    assert idx[0, : n[0]].tolist() == [0, 1, 3, 4, 5]


def test_cell_sentences_strings(pbmc):
    text = cell_sentences(pbmc, top_k=5, use_raw=True)
    x = pbmc.raw.X.toarray()
    names = np.asarray(pbmc.raw.var_names)
    assert len(text) == pbmc.n_obs
    assert text[0].split() == list(names[reference_topk(x[0], 5)])


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_store_rows_equals_the_numpy_mapping(dtype):
    """The cell store's rows from one kernel pass equal numpy's mask, gather and bincount, empty cells dropped."""
    from c2s.sentences.topk import store_rows

    rng = np.random.default_rng(3)
    x = sp.random(300, 40, density=0.15, format="csr", random_state=4, dtype=np.float32)
    x.data = np.ceil(x.data * 5)  # ties
    idx, lens = topk_indices(x, 8)
    assert (lens == 0).any()  # some empty cells to drop
    gmap = rng.permutation(60)[:40].astype(np.int64)
    keep, valid = lens > 0, idx >= 0
    want = np.zeros((int(keep.sum()), 10), dtype=dtype)  # k (10) wider than this source's top-k (8)
    want[:, :8][valid[keep]] = gmap[idx[keep][valid[keep]]]
    out, counts = np.zeros_like(want), np.zeros(60, dtype=np.int64)
    store_rows(idx, lens, gmap, out, counts)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(counts, np.bincount(gmap[idx[valid]], minlength=60))
