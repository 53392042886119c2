"""report.json + report.md: the model and its baselines side by side, with 95% CIs; predictions.jsonl records."""

from __future__ import annotations

from pathlib import Path

from c2s.atomic import write_json_atomic, write_text_atomic


def prediction_records(task, rows, gen, parsed, scores, score_name: str, decoding: str) -> list[dict]:
    """One predictions.jsonl record per example: prompt, reference, generated and parsed output, its score."""
    return [
        {
            "task": task,
            "decoding": decoding,
            "cell_ids": list(r.get("cell_ids") or []),
            "prompt": r["prompt"],
            "reference": r["target"],
            "generated": g,
            "parsed": p,
            score_name: None if sc is None else float(sc),
        }
        for r, g, p, sc in zip(rows, gen, parsed, scores)
    ]


def _fmt(m: dict) -> str:
    return f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def _coverage_lines(cov: dict | None) -> list[str]:
    if not cov:
        return []
    pct = 100 * cov["fraction"]
    lines = [
        f"Gene coverage: {cov['n_known']} of {cov['n_genes']} genes ({pct:.1f}%) are in the model's vocabulary"
        + (f" (missing e.g. {', '.join(cov['missing'])})." if cov["missing"] else "."),
        "",
    ]
    if cov["causes"]:
        lines[-1:-1] = ["", "**Warning: low gene coverage.** Scores here say little about the model. Likely causes:"]
        lines[-1:-1] = [f"- {c}" for c in cov["causes"]]
    return lines


def write_report(report: dict, out_dir: str | Path, title: str) -> str:
    """Write both files into ``out_dir``; return the Markdown."""
    out_dir = Path(out_dir)
    lines = [
        f"# {title}",
        "",
        f"Split `{report['split']}` of `{report['shards']}`. Values are "
        "point estimates with 95% bootstrap CIs [low, high]. `model`: greedy decoding (unless "
        "generation.do_sample); `model, sampled`: generated cells decoded by sampling.",
        "",
        *_coverage_lines(report.get("gene_coverage")),
        "| task | n | metric | model | model, sampled | baselines |",
        "|---|---|---|---|---|---|",
    ]
    for task, e in report["tasks"].items():
        sampled = e.get("model_sampled", {})
        for metric, value in e["model"].items():
            base = "; ".join(f"{name}: {_fmt(m[metric])}" for name, m in e["baselines"].items() if metric in m)
            other = _fmt(sampled[metric]) if metric in sampled else "–"
            lines.append(f"| {task} | {e['n']} | {metric} | {_fmt(value)} | {other} | {base} |")
    if "embeddings" in report:
        emb = report["embeddings"]
        lines += [
            "",
            f"Cell embeddings (mean-pooled last hidden states): kNN probe accuracy "
            f"{_fmt(emb['knn_probe']['accuracy'])} on {emb['n_test']} test cells "
            f"({emb['n_train']} train cells). Pictures: `umap.png`, `confusion_matrix.png`.",
        ]
    for task, e in report["tasks"].items():
        if e.get("parse"):
            lines.append(
                f"\n`{task}` output parsing: {e['parse']['non_genes_dropped']} non-gene words and "
                f"{e['parse']['repeats_dropped']} repeated genes dropped."
            )
    text = "\n".join(lines) + "\n"
    write_json_atomic(out_dir / "report.json", report)
    write_text_atomic(out_dir / "report.md", text)
    return text
