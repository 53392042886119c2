"""The model card (README.md) written into every HF export, in the hub's conventions: YAML
metadata, then data, tasks and prompt format, training budget, and evaluation. ``evaluate.py``
fills the evaluation section when it evaluates the export."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from c2s.atomic import write_text_atomic

EVAL_HEADING = "## Evaluation"
PENDING = "Not evaluated yet. Run `python evaluate.py ckpt=<this directory>` to fill this section."


def model_card(summary: Mapping[str, Any], manifest: Mapping[str, Any], run_name: str) -> str:
    """Markdown for an export of one stage. ``summary``: the stage summary (mode, steps,
    tokens_per_step, parameters, init_from, val_history); ``manifest``: the shards' manifest."""
    p, steps = summary["parameters"], summary["steps"]
    val = summary.get("val_history") or []
    key = summary.get("metric_key", "loss")  # the stage recipe's validation metric
    curve = " → ".join(f"{r[key]:.3f}" for r in val[:1] + val[-1:]) if val else "n/a"
    counts = manifest.get("counts", {}).get("train", {})
    fmt = ((manifest.get("config", {}).get("tasks") or {}).get("options") or {}).get("prompt_format", "c2s")
    prompts = (
        "the C2S-Scale models' exact prompts (prompt format `c2s_scale`); gene names upper-cased"
        if fmt == "c2s_scale"
        else "c2s's own templates (prompt format `c2s`); gene names as in the data (case kept)"
    )
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        "tags: [c2s, cell2sentence, single-cell, scRNA-seq, cell-sentences]",
        "---",
        "",
        f"# {run_name} / {summary['stage']}",
        "",
        "A decoder trained with c2s on cell sentences: each cell is written as the names of its most expressed "
        "genes, in descending order of expression.",
        "",
        "## Data",
        "",
        f"- Datasets: {', '.join(manifest.get('datasets', [])) or 'n/a'}; {manifest.get('n_cells', 'n/a')} cells "
        f"(train / val / test: {', '.join(str(v) for v in manifest.get('cells_per_split', {}).values())}).",
        f"- Shards: `{summary['shards']}` (config hash `{manifest.get('config_hash', 'n/a')}`).",
        "",
        "## Tasks and prompt format",
        "",
        f"{prompts}. Training examples per task:",
        "",
        *[f"- `{t}`: {n}" for t, n in sorted(counts.items())],
        "",
        "## Training",
        "",
        f"- Stage `{summary['stage']}`, mode `{summary['mode']}`, from "
        f"{'`' + str(summary['init_from']) + '`' if summary.get('init_from') else 'scratch'}.",
        f"- {steps} optimizer steps, {summary['tokens_per_step']:,} tokens per step: about "
        f"{steps * summary['tokens_per_step']:,} tokens seen.",
        f"- {p['total']:,} parameters ({p['non_embedding']:,} non-embedding, {p['trainable']:,} trained).",
        f"- Validation {key}: {curve}.",
        "",
        EVAL_HEADING,
        "",
        PENDING,
        "",
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "model = AutoModelForCausalLM.from_pretrained(path)",
        "tokenizer = AutoTokenizer.from_pretrained(path)",
        "```",
        "",
    ]
    return "\n".join(lines)


def fill_evaluation(export: str | Path, report_md: str) -> bool:
    """Replace the card's evaluation section with ``report_md`` (its table); False if ``export``
    has no c2s card."""
    card = Path(export) / "README.md"
    if not card.is_file() or EVAL_HEADING not in (text := card.read_text()):
        return False
    body = "\n".join(line for line in report_md.splitlines() if not line.startswith("# ")).strip()
    new = re.sub(rf"{EVAL_HEADING}\n.*?(?=\n## |\Z)", lambda _: f"{EVAL_HEADING}\n\n{body}\n", text, flags=re.S)
    write_text_atomic(card, new)
    return True
