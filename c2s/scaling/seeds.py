"""Seed replicates of a sweep: runs whose names differ only in a trailing ``-s<seed>`` form one arm; each arm's
loss and task metrics as mean ± sd with a 95% t-interval of the mean (the spread over training seeds, which the
per-run bootstrap CIs over test examples do not show).
"""

from __future__ import annotations

import re

import numpy as np
from scipy import stats

from c2s.scaling.metrics import metric_entry, metric_keys

SEED_SUFFIX = re.compile(r"-s\d+$")


def seed_arms(results: list[dict]) -> dict[str, list[dict]]:
    """Arm name (the run name without ``-s<seed>``) -> its runs, in first-seen order; arms of ≥ 2 runs only."""
    arms: dict[str, list[dict]] = {}
    for r in results:
        arms.setdefault(SEED_SUFFIX.sub("", r.get("name", r["model"])), []).append(r)
    return {k: v for k, v in arms.items() if len(v) >= 2}


def summarize(values: list[float]) -> dict[str, float]:
    """mean, sample sd (ddof 1), n, and the 95% t-interval of the mean."""
    v = np.asarray(values, float)
    mean, sd = float(v.mean()), float(v.std(ddof=1))
    half = float(stats.t.ppf(0.975, v.size - 1) * sd / np.sqrt(v.size))
    return {"mean": mean, "sd": sd, "n": int(v.size), "ci_low": mean - half, "ci_high": mean + half}


def seed_summary(results: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Arm -> {"val_loss" | "task/metric" | "task/metric (sampled)": summarize(...)} over the arm's seeds."""
    keys = metric_keys(results)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for arm, runs in seed_arms(results).items():
        row = {"val_loss": summarize([r["val_loss"] for r in runs])}
        for k in keys:
            for which, label in (("model", k), ("model_sampled", f"{k} (sampled)")):
                got = [metric_entry(r, k, which) for r in runs]
                if all(g is not None for g in got):
                    row[label] = summarize([g["value"] for g in got])
        out[arm] = row
    return out


def seed_table(summary: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """Markdown: one row per arm, ``mean ± sd [95% t-interval]`` per column."""
    if not summary:
        return []
    cols = list(next(iter(summary.values())))
    lines = ["| arm | seeds | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for arm, row in summary.items():
        n = next(iter(row.values()))["n"]
        cells = [
            f"{s['mean']:.3g} ± {s['sd']:.2g} [{s['ci_low']:.3g}, {s['ci_high']:.3g}]" if s else "—"
            for s in (row.get(c) for c in cols)
        ]
        lines.append(f"| {arm} | {n} | " + " | ".join(cells) + " |")
    return lines
