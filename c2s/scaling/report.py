"""Collect a sweep's result.json files, fit L(N) and L(N, D), plot the loss and (where the jobs evaluated) task
metrics against N, D and FLOPs, and write scaling.{md,json} + PNGs."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from c2s.atomic import write_json_atomic, write_text_atomic
from c2s.errors import C2SInputError
from c2s.scaling.fit import PowerLawFit, fit_power_law
from c2s.scaling.metrics import fit_metric_errors, metric_keys, metric_table
from c2s.scaling.plots import AXES, draw
from c2s.scaling.seeds import seed_summary, seed_table

log = logging.getLogger(__name__)
NEEDED = ("non_embedding_params", "params", "tokens", "flops", "val_loss", "model")


def collect(sweep_dir: str | Path) -> list[dict]:
    """Every result.json under ``sweep_dir`` (one per job), sorted by parameters then tokens."""
    results = []
    for p in sorted(Path(sweep_dir).rglob("result.json")):
        try:
            r = json.loads(p.read_text())
            missing = [k for k in NEEDED if k not in r]
        except (json.JSONDecodeError, TypeError) as exc:
            raise C2SInputError(f"{p} is not valid JSON ({exc}); delete it or re-run that job.") from None
        if missing:
            raise C2SInputError(f"{p} lacks {missing}: not a c2s result.json; delete it or re-run that job.")
        results.append(r | {"path": str(p.parent)})
        why = _invalid(r)
        if why:
            results[-1]["excluded"] = why
            log.warning("%s is left out of the fits and plots: %s.", p, why)
    return sorted(results, key=lambda r: (_number(r["non_embedding_params"]), _number(r["tokens"])))


def _number(x) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) else float("inf")


def _invalid(r: dict) -> str | None:
    """Why a run cannot enter the fits (a loss that is not a positive finite number; a size that is not one)."""
    for key in ("val_loss", "non_embedding_params", "params", "tokens", "flops"):
        x = r[key]
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not np.isfinite(x) or x <= 0:
            return f"{key} is {x!r}, not a positive finite number"
    return None


def _count(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def scaling_report(sweep_dir: str | Path, out_dir: str | Path | None = None, n_boot: int = 200) -> dict:
    """Fit and plot a sweep; returns what scaling.json holds."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise C2SInputError(
            f"{sweep_dir} is not a directory. Give a sweep's output dir (multirun/... or outputs/sweeps/<name>)."
        )
    found = collect(sweep_dir)
    if not found:
        raise C2SInputError(f"No result.json under {sweep_dir}: run a sweep first (python train.py -m experiment=...).")
    excluded = [r for r in found if r.get("excluded")]
    results = [r for r in found if not r.get("excluded")]
    if not results:
        raise C2SInputError(
            f"No run under {sweep_dir} has a usable loss ({excluded[0]['path']}: {excluded[0]['excluded']}); "
            "re-run those jobs."
        )
    out = Path(out_dir) if out_dir else sweep_dir
    out.mkdir(parents=True, exist_ok=True)
    n = np.array([r["non_embedding_params"] for r in results], float)
    d = np.array([r["tokens"] for r in results], float)
    loss = np.array([r["val_loss"] for r in results], float)
    fits: dict[str, PowerLawFit] = {}
    fixed_d = bool(np.ptp(d) <= 0.01 * d.max())  # L(N) and error(N) only where every run saw the same tokens
    if np.unique(n).size >= 3 and fixed_d:
        fits["L(N)"] = fit_power_law(n, loss, n_boot=n_boot)
    if np.unique(d).size >= 3 and np.unique(n).size >= 2:
        fits["L(N,D)"] = fit_power_law(n, loss, d=d, n_boot=n_boot)
    per_size = {}  # L(D) = E + A·D^-α per model with ≥ 3 budgets; the total count keeps tokenizers apart
    for model, total in dict.fromkeys((r["model"], r["params"]) for r in results):
        at = np.array([(r["model"], r["params"]) == (model, total) for r in results])
        if np.unique(d[at]).size >= 3:
            per_size[f"L(D) at {model} ({total:,} params)"] = fit_power_law(d[at], loss[at], n_boot=n_boot)
    fits |= per_size
    title = f"{sweep_dir.name}: {len(results)} runs"
    metric_fits = fit_metric_errors(results, n_boot) if fixed_d else {}
    evaluated = bool(metric_keys(results))
    draw(results, fits, metric_fits, out, title)
    report = {
        "sweep": str(sweep_dir),
        "runs": results,
        "excluded": [{"path": r["path"], "reason": r["excluded"]} for r in excluded],
        "fits": {k: asdict(v) for k, v in fits.items()},
        "metric_fits": {k: asdict(v) for k, v in metric_fits.items()},
        "seeds": seed_summary(results),
    }
    write_json_atomic(out / "scaling.json", report)
    lines = [
        f"# Scaling: `{sweep_dir.name}`",
        "",
        "| run | model | N (non-emb.) | params | tokens D | prompts seen | FLOPs | val loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.get('name', r['model'])} | {r['model']} | {r['non_embedding_params']:,} | {r['params']:,} | "
        f"{r['tokens']:,.0f} | {_count(r.get('examples'))} | {r['flops']:.3g} | {r['val_loss']:.4f} |"
        for r in results
    ]
    lines += [f"| {Path(r['path']).name} | left out: {r['excluded']} | | | | | | |" for r in excluded]
    for name, f in fits.items():
        lines += [
            "",
            f"**{name}**: "
            + ", ".join(
                f"{k} = {v:.4g}" + (f" [{f.ci[k][0]:.4g}, {f.ci[k][1]:.4g}]" if k in f.ci else "")
                for k, v in f.params.items()
            )
            + f"; R² (log-loss) = {f.r2:.3f}; {f.n_points} points; "
            + ("95% bootstrap CIs" if f.ci else "no CIs (no more points than parameters)")
            + (" (A, alpha: of D)." if name.startswith("L(D)") else "."),
        ]
    if evaluated:
        lines += ["", "## Task metrics (test split, 95% bootstrap CIs; greedy / sampled)", "", *metric_table(results)]
    if report["seeds"]:
        lines += ["", "## Across training seeds (mean ± sd [95% t-interval of the mean])", ""]
        lines += seed_table(report["seeds"])
    for name, f in metric_fits.items():
        p = f.params
        lines += [
            "",
            f"**error of {name}** = {p['E']:.3g} + {p['A']:.3g}·N^-{p['alpha']:.3f}; α 95% CI "
            + (f"[{f.ci['alpha'][0]:.3g}, {f.ci['alpha'][1]:.3g}]" if "alpha" in f.ci else "n/a")
            + f"; R² (log) = {f.r2:.3f}; {f.n_points} points.",
        ]
    plots = ["loss_vs_params.png", "loss_vs_tokens.png", "loss_vs_flops.png"]
    plots += [f"metrics_vs_{stem}.png" for _, _, stem in AXES] if evaluated else []
    lines += ["", "Plots: " + ", ".join(f"`{p}`" for p in plots) + "."]
    write_text_atomic(out / "scaling.md", "\n".join(lines) + "\n")
    return report
