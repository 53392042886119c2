"""Summaries of a training run: validation loss per task at the start and end of each stage."""

from __future__ import annotations

import json
from pathlib import Path

from c2s.atomic import write_json_atomic, write_text_atomic
from c2s.config.train import TrainConfig


def summarise_run(run_dir: str | Path, stages: list[str]) -> str:
    """Write <run_dir>/summary.json and summary.md from the stages' summaries; return the Markdown."""
    run_dir = Path(run_dir)
    summaries = {
        s: json.loads((run_dir / s / "summary.json").read_text())
        for s in stages
        if (run_dir / s / "summary.json").exists()
    }
    lines = ["# Training run summary", ""]
    for name, s in summaries.items():
        hist = s["val_history"]
        lines += [
            f"## Stage `{name}` ({s['mode']}): {s['steps']} steps, {s['seconds']} s, "
            f"{s['parameters']['trainable']:,} trainable of {s['parameters']['total']:,} parameters",
            "",
        ]
        if not hist:
            continue
        first, last = hist[0], hist[-1]
        if "reward" in last:  # grpo: held-out mean reward (greedy completions)
            lines += [
                f"Held-out mean reward ({last['n']} val prompts, greedy): {first['reward']:.3f} -> "
                f"{last['reward']:.3f} ({last['reward'] - first['reward']:+.3f})",
                "",
                "| reward / task | at start | at end |",
                "|---|---|---|",
            ]
            for key in ("rewards", "tasks"):
                for n in sorted(last[key]):
                    a = first[key].get(n)
                    lines.append(f"| {n} | {'–' if a is None else f'{a:.3f}'} | {last[key][n]:.3f} |")
            lines.append("")
            continue
        lines += [
            "| task | val loss at start | val loss at end | change |",
            "|---|---|---|---|",
            f"| **all** | {first['loss']:.3f} | {last['loss']:.3f} | {last['loss'] - first['loss']:+.3f} |",
        ]
        for task in sorted(last["tasks"]):
            a, b = first["tasks"].get(task), last["tasks"][task]
            lines.append(
                f"| {task} | {a:.3f} | {b:.3f} | {b - a:+.3f} |" if a is not None else f"| {task} | – | {b:.3f} | |"
            )
        lines.append("")
    text = "\n".join(lines)
    write_json_atomic(run_dir / "summary.json", summaries)
    write_text_atomic(run_dir / "summary.md", text)
    return text


def write_result(run_dir: str | Path, cfg: TrainConfig) -> dict:
    """<run_dir>/result.json, one machine-readable line of a sweep: parameters, tokens trained,
    prompts seen, FLOPs ≈ 6·N·D (N non-embedding parameters, D tokens), final validation loss overall and per
    task (of the last stage), and the run's identity (model, group, name).

    A run started from a c2s export (init_from=<run>/<stage>/hf) counts that stage's tokens, prompts and seconds
    too (as stage ``init_from``; one level), so fine-tuning a shared base costs what pre-training in-job would."""
    run_dir = Path(run_dir)
    stages = {
        s: json.loads((run_dir / s / "summary.json").read_text())
        for s in cfg.order()
        if (run_dir / s / "summary.json").exists()
    }
    if not stages:
        return {}
    last = stages[list(stages)[-1]]
    base = Path(cfg.init_from).parent / "summary.json" if cfg.init_from else None
    if base is not None and base.is_file():
        stages = {"init_from": json.loads(base.read_text()), **stages}
    tokens = sum(s["steps"] * s["tokens_per_step"] for s in stages.values())
    # prompts seen; unknown (None) if a stage predates the count, rather than a silent 0
    known = all("examples_per_step" in s for s in stages.values())
    examples = sum(s["steps"] * s["examples_per_step"] for s in stages.values()) if known else None
    n = last["parameters"]["non_embedding"]
    result = {
        "name": cfg.name,
        "group": cfg.logger.group,
        "model": cfg.model.name,
        "params": last["parameters"]["total"],
        "trainable_params": last["parameters"]["trainable"],  # of the last stage (LoRA: the adapters)
        "non_embedding_params": n,
        "tokens": tokens,
        "examples": examples,
        "flops": 6.0 * n * tokens,
    }
    final = last["val_history"][-1] if last["val_history"] else {}
    if "reward" in final:
        result.update(
            val_reward=final["reward"],
            val_reward_per_task=final["tasks"],
            val_reward_at_start=last["val_history"][0]["reward"],
        )
    else:
        result.update(val_loss=final.get("loss"), val_loss_per_task=final.get("tasks", {}))
    result["stages"] = {k: {"steps": v["steps"], "seconds": v["seconds"]} for k, v in stages.items()}
    write_json_atomic(run_dir / "result.json", result)
    return result
