"""Reading, checking and normalising AnnData for cell sentences."""

from c2s.data.anndata_io import ExpressionSource, load_anndata

__all__ = ["ExpressionSource", "load_anndata"]
