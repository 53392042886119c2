"""format_rows against str.format, row by row: literals, escaped braces, repeated fields, a suffix,
and the templates it hands back to str.format (conversions, specs, attributes)."""

import numpy as np
import pytest

from c2s.tasks.template_rows import format_rows

TEMPLATES = [
    "Annotate this {organism} cell: {cell}",
    "{cell}",
    "{{literal braces}} {a}-{b}, {a} again\n{cell}",
    "no fields at all",
    "",
    "{a!r} and {b:>4}",  # conversion and spec: handed to str.format
]


@pytest.mark.parametrize("fmt", TEMPLATES)
@pytest.mark.parametrize("n", [0, 1, 7])
def test_format_rows_equals_str_format(fmt, n):
    rng = np.random.default_rng(n)
    cats = np.array(["B cell", "T {cell}", "", "ü", np.str_("NK")], dtype=object)
    cols = {f: cats[rng.integers(cats.size, size=n)] for f in ("organism", "cell", "a", "b")}
    want = [fmt.format(**{f: c[i] for f, c in cols.items()}) + "." for i in range(n)]
    assert format_rows(fmt, cols, n, suffix=".") == want


def test_a_missing_field_raises_as_format_does():
    with pytest.raises(KeyError):
        format_rows("{a} {missing}", {"a": ["x"]}, 1)
