"""Cell sentences: top-K genes per cell in descending expression, and the inverse transform.

Public API::

    cell_sentences(adata, top_k=100, layer=None, use_raw=False) -> list[str]
    cell_sentence_indices(adata, ...) -> CellSentences   # int32 indices, for pipelines
    fit_inverse(adata, ...) -> InverseFit                 # .slope .intercept .r2
    reconstruct(sentences, fit, gene_names) -> Reconstruction
"""

from importlib import import_module

_WHERE = {  # loaded on first use: render workers need only InverseFit, not AnnData or scipy.stats
    "CellSentences": "convert",
    "cell_sentence_indices": "convert",
    "cell_sentences": "convert",
    "sentences_from_source": "convert",
    "InverseFit": "inverse",
    "Reconstruction": "inverse",
    "fit_inverse": "inverse",
    "reconstruct": "inverse",
    "topk_indices": "topk",
}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'c2s.sentences' has no attribute {name!r}")
    return getattr(import_module(f"c2s.sentences.{_WHERE[name]}"), name)


__all__ = [
    "CellSentences",
    "InverseFit",
    "Reconstruction",
    "cell_sentence_indices",
    "cell_sentences",
    "fit_inverse",
    "reconstruct",
    "sentences_from_source",
    "topk_indices",
]
