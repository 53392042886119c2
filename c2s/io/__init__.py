"""AnnData in: read it (in memory or backed), validate the matrix and labels, map gene names; synthetic data.

The readers load lazily, so that importing a submodule does not import anndata."""

__all__ = ["ExpressionSource", "load_anndata"]


def __getattr__(name: str):
    if name in __all__:
        from c2s.io import anndata_io

        return getattr(anndata_io, name)
    raise AttributeError(f"module 'c2s.io' has no attribute {name!r}")
