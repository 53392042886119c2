"""A sweep job's evaluation: the last stage's export scored on the test split (c2s.eval), its metrics with CIs
added to result.json, so ``python -m c2s.scaling`` can plot task metrics against N, D and FLOPs."""

from __future__ import annotations

import json
from pathlib import Path

from c2s.atomic import write_json_atomic
from c2s.config.evaluate import EvaluateConfig
from c2s.config.train import TrainConfig


def evaluate_into_result(cfg: TrainConfig, export: str | Path) -> dict:
    """Evaluate ``export`` per ``cfg.evaluate`` into <run_dir>/eval and add ``metrics`` to result.json:
    {task: {metric_name, model: {metric: {value, ci_low, ci_high}}, model_sampled, baselines}}. Returns it."""
    from c2s.eval.job import evaluate

    e = cfg.evaluate
    c = EvaluateConfig(
        ckpt=str(export),
        split="test",
        tasks=e.tasks,
        max_examples=e.max_examples,
        seed=cfg.seed,
        bootstrap=e.bootstrap,
        embeddings=False,
        generation=e.generation,
        out_dir=str(Path(cfg.run_dir) / "eval"),
    )
    report, _, _ = evaluate(c)
    metrics = {
        task: {
            "metric": t["metric"],
            "n": t["n"],
            "model": t["model"],
            "model_sampled": t.get("model_sampled"),
            "baselines": t["baselines"],
        }
        for task, t in report["tasks"].items()
    }
    path = Path(cfg.run_dir) / "result.json"
    result = json.loads(path.read_text()) if path.is_file() else {}
    result["metrics"] = metrics
    write_json_atomic(path, result)
    return metrics
