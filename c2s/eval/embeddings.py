"""Cell embeddings from the model: mean of the last hidden states over the tokens of a fixed
prompt ("Cell sentence: <genes>"), then a kNN probe on held-out cells and a UMAP picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

PROMPT = "Cell sentence: "


@torch.no_grad()
def embed_cells(model, tokenizer, sentences: list[str], batch_size: int = 32) -> np.ndarray:
    """(n, hidden) mean-pooled last hidden states, padding excluded."""
    dec = model.get_decoder()
    out = []
    for s in range(0, len(sentences), batch_size):
        enc = [
            [tokenizer.bos_token_id] + tokenizer(PROMPT + x, add_special_tokens=False)["input_ids"]
            for x in sentences[s : s + batch_size]
        ]
        width = max(map(len, enc))
        ids = torch.tensor([e + [tokenizer.pad_token_id] * (width - len(e)) for e in enc], device=model.device)
        mask = torch.tensor([[1] * len(e) + [0] * (width - len(e)) for e in enc], device=model.device)
        h = dec(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        out.append(((h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def knn_probe(train: np.ndarray, train_y: list[str], test: np.ndarray, k: int = 5) -> list[str]:
    from sklearn.neighbors import KNeighborsClassifier

    return list(KNeighborsClassifier(n_neighbors=min(k, len(train_y))).fit(train, train_y).predict(test))


def plot_umap(x: np.ndarray, labels: list[str], path: str | Path, title: str, seed: int = 0) -> None:
    """UMAP of embeddings coloured by label, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import umap

    xy = umap.UMAP(n_neighbors=min(15, len(x) - 1), random_state=seed).fit_transform(x)
    fig, ax = plt.subplots(figsize=(6.5, 5), dpi=100)
    for lab in sorted(set(labels)):
        m = np.array(labels) == lab
        ax.scatter(xy[m, 0], xy[m, 1], s=8, label=lab)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=6, markerscale=1.5, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_confusion(true: list[str], pred: list[str], path: str | Path, title: str) -> None:
    """Row-normalised confusion matrix (true × predicted) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    labels = sorted(set(true))
    cols = labels + sorted(set(pred) - set(labels))
    cm = confusion_matrix(true, pred, labels=cols)[: len(labels)]
    cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(cols), 1 + 0.45 * len(labels)), dpi=100)
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
