"""The converted cells: per-cell sentences and metadata on disk (CellStore, Corpus), their build from AnnData,
splits, and the global plan (groups, control pairs, spatial neighbours, marker gene sets)."""
