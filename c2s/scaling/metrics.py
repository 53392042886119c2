"""Task metrics against scale: each sweep job's evaluation (result.json ``metrics``, c2s.training.sweep_eval)
plotted against N, D or FLOPs beside the loss, tabulated, and fitted where a power law makes sense.

A fit is made for metrics with a natural error (1 − accuracy, 1 − macro-F1, 1 − overlap/100, 1 − BERTScore):
error(N) = E + A·N^-α by the loss fit (c2s.scaling.fit), when ≥ 3 model sizes were run. Other metrics
(scFID, τ) are plotted only.
"""

from __future__ import annotations

import numpy as np

from c2s.scaling.fit import PowerLawFit, fit_power_law

ERROR_OF = {  # metric -> its error, in [0, 1], that falls with scale
    "accuracy": lambda v: 1.0 - v,
    "macro_f1": lambda v: 1.0 - v,
    "overlap_pct": lambda v: 1.0 - v / 100.0,
    "bertscore_f1": lambda v: 1.0 - v,
}
VALUE_OF = {  # the inverse of ERROR_OF: a fitted error drawn as the metric it models
    "accuracy": lambda e: 1.0 - e,
    "macro_f1": lambda e: 1.0 - e,
    "overlap_pct": lambda e: 100.0 * (1.0 - e),
    "bertscore_f1": lambda e: 1.0 - e,
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
