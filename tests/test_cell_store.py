"""The cell store's row reads: whole-map and windowed, take() and the renderer's prefixes()."""

import numpy as np


def test_store_reads_scattered_rows_window_by_window(synthetic_corpus, monkeypatch):
    """take() maps a small store whole and a large one a window at a time; either way, and for any window size,
    the same genes in the order asked, equal to the cells' own sentences."""
    import c2s.corpus.cell_store as cell_store

    store = synthetic_corpus.sentences
    rows = np.random.default_rng(0).permutation(len(store))[:300]
    whole = store.take(rows, 30)
    assert store._mm is not None  # mapped whole (RESIDENT)
    store.release()
    monkeypatch.setattr(cell_store, "RESIDENT", 0)  # as if larger: windows
    monkeypatch.setattr(cell_store, "WINDOW", 1)  # one row per window
    assert np.array_equal(store.take(rows, 30), whole)
    for i in rows[:20]:
        ids = whole[list(rows).index(i)]
        assert " ".join(store.gene_names[ids[ids >= 0]]) == store.sentence(int(i), 30)


def test_store_prefixes_equal_take_then_mask(synthetic_corpus, monkeypatch):
    """prefixes() (the renderer's gather) gives each row's first ks[i] genes, cut at its sentence's end: what
    take() and a mask give, for repeated and scattered rows, k = 0, k past top_k, and any window size."""
    import c2s.corpus.cell_store as cell_store

    store = synthetic_corpus.sentences
    rng = np.random.default_rng(1)
    rows = rng.integers(len(store), size=500)  # repeats included
    ks = rng.integers(0, store.top_k + 5, size=rows.size)
    ks[:3] = [0, store.top_k, store.top_k + 7]
    table = store.take(rows)
    want = [t[(np.arange(t.size) < k) & (t >= 0)] for t, k in zip(table, ks)]
    for resident, window in ((cell_store.RESIDENT, cell_store.WINDOW), (0, cell_store.WINDOW), (0, 1)):
        monkeypatch.setattr(cell_store, "RESIDENT", resident)
        monkeypatch.setattr(cell_store, "WINDOW", window)
        off, flat = store.prefixes(rows, ks)
        assert off.size == rows.size + 1 and flat.dtype == np.int32
        assert all(np.array_equal(flat[off[i] : off[i + 1]], w) for i, w in enumerate(want))
    off, flat = store.prefixes(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert off.tolist() == [0] and flat.size == 0
