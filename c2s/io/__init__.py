"""Data in: sources behind one protocol (c2s.io.sources), AnnData reading and checks, gene names, synthetic data.

The readers load lazily, so that importing a submodule does not import anndata."""

__all__ = ["ExpressionSource", "load_anndata", "open_source"]


def __getattr__(name: str):
    if name == "ExpressionSource":
        from c2s.io import anndata_io

        return anndata_io.ExpressionSource
    if name in __all__:
        from c2s.io import sources

        return getattr(sources, name)
    raise AttributeError(f"module 'c2s.io' has no attribute {name!r}")
