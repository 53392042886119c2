"""report.json + report.md: the model and its baselines side by side, with 95% CIs."""

from __future__ import annotations

from pathlib import Path

from c2s.atomic import write_json_atomic, write_text_atomic


def _fmt(m: dict) -> str:
    return f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def write_report(report: dict, out_dir: str | Path, title: str) -> str:
    """Write both files into ``out_dir``; return the Markdown."""
    out_dir = Path(out_dir)
    lines = [
        f"# {title}",
        "",
        f"Split `{report['split']}` of `{report['shards']}`. Values are "
        "point estimates with 95% bootstrap CIs [low, high].",
        "",
        "| task | n | metric | model | baselines |",
        "|---|---|---|---|---|",
    ]
    for task, e in report["tasks"].items():
        for metric, value in e["model"].items():
            base = "; ".join(f"{name}: {_fmt(m[metric])}" for name, m in e["baselines"].items() if metric in m)
            lines.append(f"| {task} | {e['n']} | {metric} | {_fmt(value)} | {base} |")
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
