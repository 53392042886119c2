"""Task metrics against scale: each sweep job's evaluation (result.json ``metrics``, c2s.training.sweep_eval)
plotted against N, D or FLOPs beside the loss, tabulated, and fitted where a power law makes sense.

A fit is made for metrics with a natural error (1 − accuracy, 1 − macro-F1, 1 − overlap/100, 1 − BERTScore):
error(N) = E + A·N^-α by the loss fit (c2s.scaling.fit), when ≥ 3 model sizes were run. Other metrics
(scFID, τ) are plotted only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from c2s.scaling.fit import PowerLawFit, fit_power_law

ERROR_OF = {  # metric -> its error, in [0, 1], that falls with scale
    "accuracy": lambda v: 1.0 - v,
    "macro_f1": lambda v: 1.0 - v,
    "overlap_pct": lambda v: 1.0 - v / 100.0,
    "bertscore_f1": lambda v: 1.0 - v,
}
SHOWN = ("accuracy", "overlap_pct", "scfid", "bertscore_f1", "program_kendall_tau")  # one panel each


def metric_keys(results: list[dict]) -> list[str]:
    """'task/metric' for the shown metrics every run reports (runs without an evaluation: none)."""
    if not results or any("metrics" not in r for r in results):
        return []
    keys = [f"{task}/{m}" for task, e in results[0]["metrics"].items() for m in e["model"] if m in SHOWN]
    return [
        k
        for k in keys
        if all(k.split("/")[1] in r["metrics"].get(k.split("/")[0], {}).get("model", {}) for r in results)
    ]


def metric_entry(r: dict, key: str, which: str = "model") -> dict | None:
    """A run's {value, ci_low, ci_high} for 'task/metric' (``which``: model | model_sampled), or None."""
    task, metric = key.split("/")
    return (r["metrics"][task].get(which) or {}).get(metric)


def plot_metrics(results: list[dict], x_key: str, xlabel: str, path: Path, title: str) -> None:
    """One panel per metric (and the loss): the model's value with its 95% CI per run, sampled decoding where
    evaluated, and the baselines (the same for every run of a sweep: same data, split and seed) as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    keys = metric_keys(results)
    panels = ["val_loss", *keys]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), dpi=100, squeeze=False)
    x = np.array([r[x_key] for r in results], float)
    for ax, key in zip(axes.flat, panels):
        if key == "val_loss":
            ax.scatter(x, [r["val_loss"] for r in results], color="C0", zorder=3)
            ax.set_yscale("log")
        else:
            for which, color, label in (("model", "C0", "model"), ("model_sampled", "C2", "model, sampled")):
                vals = [metric_entry(r, key, which) for r in results]
                if all(v is not None for v in vals):
                    y = np.array([v["value"] for v in vals])
                    err = np.array([[v["value"] - v["ci_low"], v["ci_high"] - v["value"]] for v in vals]).T
                    ax.errorbar(x, y, yerr=err, fmt="o", color=color, capsize=2, label=label, zorder=3)
            task, metric = key.split("/")
            for i, (name, b) in enumerate(results[0]["metrics"][task]["baselines"].items()):
                if metric in b:
                    ax.axhline(b[metric]["value"], ls="--", lw=1, color=f"C{3 + i}", label=name)
            ax.legend(fontsize=6)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels overlap on short ranges
        ax.set_title(key, fontsize=8)
        ax.set_xlabel(xlabel, fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def fit_metric_errors(results: list[dict], n_boot: int = 200) -> dict[str, PowerLawFit]:
    """'task/metric' -> error(N) fit, for metrics in ERROR_OF with ≥ 3 model sizes and a positive error."""
    n = np.array([r["non_embedding_params"] for r in results], float)
    if np.unique(n).size < 3:
        return {}
    fits = {}
    for key in metric_keys(results):
        metric = key.split("/")[1]
        if metric not in ERROR_OF:
            continue
        err = np.array([ERROR_OF[metric](metric_entry(r, key)["value"]) for r in results])
        if np.all(err > 0):
            fits[key] = fit_power_law(n, err, n_boot=n_boot)
    return fits


def metric_table(results: list[dict]) -> list[str]:
    """Markdown: one row per run, one column per metric (model value [95% CI]; sampled decoding after a /)."""
    keys = metric_keys(results)
    if not keys:
        return []
    lines = ["| run | tokens D | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for r in results:
        cells = []
        for k in keys:
            v, s = metric_entry(r, k), metric_entry(r, k, "model_sampled")
            cell = f"{v['value']:.3g} [{v['ci_low']:.3g}, {v['ci_high']:.3g}]"
            cells.append(cell + (f" / {s['value']:.3g}" if s else ""))
        lines.append(f"| {r.get('name', r['model'])} | {r['tokens']:,.0f} | " + " | ".join(cells) + " |")
    base = results[0]["metrics"]
    named = [
        f"{k}: "
        + ", ".join(
            f"{b} {v[k.split('/')[1]]['value']:.3g}"
            for b, v in base[k.split("/")[0]]["baselines"].items()
            if k.split("/")[1] in v
        )
        for k in keys
    ]
    return lines + [
        "",
        "Baselines (same data and split for every run): " + "; ".join(n for n in named if not n.endswith(": ")) + ".",
    ]
