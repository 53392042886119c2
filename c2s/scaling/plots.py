"""Scaling plots a reader can read: every run coloured by its series (model size against D or FLOPs; D against
N), a legend naming them, each series' points joined in order of x, the fitted power laws drawn over the points
they were fitted to, and the baselines as labelled dashed lines.

``replot`` redraws every PNG of a sweep from its ``scaling.json`` alone (no run is read again).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from c2s.scaling.fit import PowerLawFit
from c2s.scaling.metrics import VALUE_OF, metric_entry, metric_keys

AXES = (
    ("non_embedding_params", "non-embedding parameters N", "params"),
    ("tokens", "training tokens D", "tokens"),
    ("flops", "training FLOPs ≈ 6·N·D", "flops"),
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def series(results: list[dict], x_key: str) -> list[tuple[str, list[int]]]:
    """(label, indices of its runs sorted by x): by model size against D or FLOPs, by D against N."""
    if x_key == "non_embedding_params":
        key = lambda r: (r["tokens"],)  # noqa: E731
        label = lambda r: f"D = {r['tokens']:.3g} tokens"  # noqa: E731
    else:
        key = lambda r: (r["non_embedding_params"], r["model"])  # noqa: E731
        label = lambda r: f"{r['model']} (N = {r['non_embedding_params']:.3g})"  # noqa: E731
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(results):
        groups.setdefault(key(r), []).append(i)
    return [
        (label(results[idx[0]]), sorted(idx, key=lambda i: results[i][x_key]))
        for _, idx in sorted(groups.items(), key=lambda kv: kv[0])
    ]


def _joined(ax, x: np.ndarray, y: np.ndarray, color, label: str, **kw) -> None:
    """Points, and a line through the mean at each x (seed replicates share an x)."""
    ax.scatter(x, y, color=color, zorder=3, s=22, label=label, **kw)
    xs = np.unique(x)
    if xs.size > 1:
        ax.plot(xs, [y[x == v].mean() for v in xs], color=color, lw=1.2, alpha=0.8)


def loss_plot(results: list[dict], curves: dict[str, PowerLawFit], x_key: str, xlabel: str, path: Path, title: str):
    """Final val loss per run against ``x_key``, coloured by series, with the fits in ``curves`` over the points."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.2, 4.4), dpi=100)
    x_all = np.array([r[x_key] for r in results], float)
    var = "N" if x_key == "non_embedding_params" else "D"
    for i, (label, idx) in enumerate(series(results, x_key)):
        x = x_all[idx]
        _joined(ax, x, np.array([results[j]["val_loss"] for j in idx], float), f"C{i % 10}", label)
        for name, fit in curves.items():  # a per-size fit is drawn in its size's colour, over its points' range
            if name.startswith("L(D) at ") and name.split(" at ")[1].split(" (")[0] == results[idx[0]]["model"]:
                _curve(ax, fit, x, f"C{i % 10}", f"{name.split(' (')[0]}: {_formula(fit, var)}")
    for name, fit in curves.items():
        if not name.startswith("L(D) at "):
            _curve(ax, fit, x_all, "black", f"{name}: {_formula(fit, var)}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("final validation loss")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _formula(fit: PowerLawFit, var: str) -> str:
    p = fit.params
    return f"{p['E']:.2f} + {p['A']:.3g}·{var}^-{p['alpha']:.3f}"


def _curve(ax, fit: PowerLawFit, x: np.ndarray, color, label: str, value=None) -> None:
    xs = np.logspace(np.log10(x.min()), np.log10(x.max()), 100)
    y = fit.predict(xs)
    ax.plot(xs, y if value is None else value(y), color=color, ls="-.", lw=1.3, label=label)


def metrics_plot(
    results: list[dict], fits: dict[str, PowerLawFit], x_key: str, xlabel: str, path: Path, title: str
) -> None:
    """One panel per metric (and the loss): each series' model values with 95% CIs (filled: greedy; hollow:
    sampled), joined; the error(N) fits as the metric they model (against N only); baselines dashed, labelled."""
    plt = _pyplot()
    import matplotlib.ticker

    panels = ["val_loss", *metric_keys(results)]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.5 * rows), dpi=100, squeeze=False)
    x_all = np.array([r[x_key] for r in results], float)
    groups = series(results, x_key)
    for ax, key in zip(axes.flat, panels):
        for i, (label, idx) in enumerate(groups):
            color, x = f"C{i % 10}", x_all[idx]
            if key == "val_loss":
                _joined(ax, x, np.array([results[j]["val_loss"] for j in idx], float), color, label)
                continue
            for which, face in (("model", color), ("model_sampled", "none")):
                vals = [metric_entry(results[j], key, which) for j in idx]
                if any(v is None for v in vals):
                    continue
                y = np.array([v["value"] for v in vals])
                err = np.array([[v["value"] - v["ci_low"], v["ci_high"] - v["value"]] for v in vals]).T
                ax.errorbar(x, y, yerr=err, fmt="none", ecolor=color, capsize=2, lw=0.8, zorder=2)
                tag = label if which == "model" else None
                ax.scatter(x, y, facecolors=face, edgecolors=color, zorder=3, s=22, label=tag)
                xs = np.unique(x)
                if xs.size > 1:
                    ax.plot(xs, [y[x == v].mean() for v in xs], color=color, lw=1.1, ls="-" if face != "none" else ":")
        if key == "val_loss":
            ax.set_yscale("log")
        else:
            task, metric = key.split("/")
            if key in fits and x_key == "non_embedding_params":
                _curve(ax, fits[key], x_all, "black", f"fit of the error: {_formula(fits[key], 'N')}", VALUE_OF[metric])
            for j, (name, b) in enumerate(results[0]["metrics"][task]["baselines"].items()):
                if metric in b:
                    ax.axhline(b[metric]["value"], ls="--", lw=1, color=("0.35", "0.6", "0.8")[j % 3], label=name)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels overlap on short ranges
        ax.set_title(key, fontsize=8)
        ax.set_xlabel(xlabel, fontsize=7)
        ax.legend(fontsize=5.5, loc="best")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"{title} (filled: greedy; hollow: sampled; dashed: baselines)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def draw(results: list[dict], fits: dict[str, PowerLawFit], metric_fits: dict[str, PowerLawFit], out: Path, title):
    """Every PNG of a sweep: loss against N, D and FLOPs; task metrics against each (where evaluated)."""
    per_size = {k: f for k, f in fits.items() if k.startswith("L(D) at ")}
    loss_plot(results, {k: fits[k] for k in ("L(N)",) if k in fits}, *AXES[0][:2], out / "loss_vs_params.png", title)
    loss_plot(results, per_size, *AXES[1][:2], out / "loss_vs_tokens.png", title)
    loss_plot(results, {}, *AXES[2][:2], out / "loss_vs_flops.png", title)
    if metric_keys(results):
        for x_key, xlabel, stem in AXES:
            metrics_plot(results, metric_fits, x_key, xlabel, out / f"metrics_vs_{stem}.png", title)


def replot(out: str | Path) -> list[str]:
    """Redraw a sweep's PNGs from its scaling.json (no run is read); returns the files drawn."""
    out = Path(out)
    report = json.loads((out / "scaling.json").read_text())
    load = lambda d: {k: PowerLawFit(**v) for k, v in d.items()}  # noqa: E731
    title = f"{Path(report['sweep']).name}: {len(report['runs'])} runs"
    draw(report["runs"], load(report["fits"]), load(report.get("metric_fits", {})), out, title)
    return sorted(p.name for p in out.glob("*.png"))
