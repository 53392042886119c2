"""Pictures of the cell-sentence step."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from c2s.atomic import atomic_path
from c2s.sentences.inverse import InverseFit


def plot_inverse_fit(rank: np.ndarray, value: np.ndarray, fit: InverseFit, path: str | Path) -> None:
    """Hexbin of expression against log10(1 + rank), with the fitted line; written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.log10(1.0 + rank)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    hb = ax.hexbin(x, value, gridsize=50, bins="log", cmap="viridis", mincnt=1)
    xs = np.linspace(0, x.max(), 100)
    ax.plot(
        xs,
        fit.intercept + fit.slope * xs,
        color="red",
        lw=2,
        label=f"{fit.intercept:.2f} {fit.slope:+.2f}·log10(1+rank)\nR²={fit.r2:.3f}",
    )
    ax.set_xlabel("log10(1 + rank in cell sentence)")
    ax.set_ylabel("expression (log-normalised)")
    ax.legend(loc="upper right", fontsize=8)
    fig.colorbar(hb, ax=ax, label="genes (log count)")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
