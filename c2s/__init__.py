"""c2s: cell sentences and decoder LLMs for single-cell RNA-seq (after C2S-Scale)."""

__version__ = "0.1.0"
