"""Cell sentences: top-K genes per cell in descending expression, and the inverse transform.

Public API::

    cell_sentences(adata, top_k=100, layer=None, use_raw=False) -> list[str]
    cell_sentence_indices(adata, ...) -> CellSentences   # int32 indices, for pipelines
    fit_inverse(adata, ...) -> InverseFit                 # .slope .intercept .r2
    reconstruct(sentences, fit, gene_names) -> Reconstruction
"""

from c2s.sentences.convert import CellSentences, cell_sentence_indices, cell_sentences, sentences_from_source
from c2s.sentences.inverse import InverseFit, Reconstruction, fit_inverse, reconstruct
from c2s.sentences.topk import topk_indices

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
