"""Reading, checking and normalising AnnData for cell sentences.

The AnnData readers load lazily: the training stream (``c2s.data.stream``) and its loader
workers import this package without anndata (the GPU image has none)."""

__all__ = ["ExpressionSource", "load_anndata"]


def __getattr__(name: str):
    if name in __all__:
        from c2s.data import anndata_io

        return getattr(anndata_io, name)
    raise AttributeError(f"module 'c2s.data' has no attribute {name!r}")
