"""Records in columns: a whole split's columns cut BATCH at a time (what the built-in tasks do) equal the
record-dict path (what a plugin task's records() goes through), batch for batch."""

import numpy as np

from c2s.tasks.columns import BATCH, Genes, batched, chunks, from_records


def _records(n: int, rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(n):
        cells = rng.integers(0, 1000, size=rng.integers(1, 5))
        out.append(
            {
                "cells": cells,
                "sentences": Genes(cells, 7, numbered=True),
                "set": Genes(ids=rng.permutation(rng.integers(0, 50, size=rng.integers(0, 6)))),
                "label": f"label {rng.integers(0, 30)}",
                "i": i,
            }
        )
    return out


def _examples(cols) -> list[tuple]:
    """Each example of ``cols`` as plain values: its cells, every text value, every gene field's items."""
    off, flat = cols.cells
    return [
        (
            flat[off[i] : off[i + 1]].tolist(),
            {f: values[codes[i]] for f, (codes, values) in cols.text.items()},
            {f: (g.flat[g.off[i] : g.off[i + 1]].tolist(), g.k, g.numbered, g.explicit) for f, g in cols.genes.items()},
        )
        for i in range(cols.n)
    ]


def test_chunks_of_a_split_equal_batched_records():
    records = _records(2 * BATCH + 123, np.random.default_rng(0))
    want = list(batched(records))
    got = list(chunks(from_records(records)))
    assert [c.n for c in got] == [c.n for c in want] == [BATCH, BATCH, 123]
    for a, b in zip(got, want):
        assert _examples(a) == _examples(b)
    assert _examples(got[2])[0][1]["i"] == str(2 * BATCH)  # the last chunk starts where the second ended
    assert list(chunks(from_records(records[:1]).rows(0, 0))) == []  # no examples: no batch


def test_a_task_builds_only_the_text_fields_it_reads():
    """The per-sample tasks join a cell-type list per sample only where a template or the answer reads it."""
    from c2s.tasks import build_tasks

    lm, by_types, annotate = build_tasks(
        ["multi_cell_lm", "sample_generation_cell_types", "sample_cell_type_annotation"]
    )
    assert not lm.uses("cell_types") and not lm.uses("description")
    assert by_types.uses("cell_types") and not by_types.uses("tissue")
    assert annotate.uses("cell_types") and annotate.target_field == "cell_types"
