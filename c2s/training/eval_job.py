"""The evaluation job (``python evaluate.py``): validate, evaluate (c2s.eval.job), fill an export's model card
with the in-domain table, and log the metrics."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import DictConfig


def run(cfg: DictConfig) -> dict:
    """Run the job; returns the report (also written to report.json)."""
    from c2s.config.evaluate import EvaluateConfig
    from c2s.config.validate import validate_config
    from c2s.eval.job import evaluate
    from c2s.training.loggers import build_logger, finish_logger
    from c2s.training.names import check_eval_names

    zero_shot = cfg.get("data") is not None
    c = validate_config(cfg, EvaluateConfig, outputs=("out_dir",), data=zero_shot)
    check_eval_names(c)
    report, out, text = evaluate(c)
    print(text)
    ckpt = Path(c.ckpt)
    if ckpt.is_dir() and not zero_shot:  # an HF export: its model card gets the in-domain table
        from c2s.training.model_card import fill_evaluation

        fill_evaluation(ckpt, text)
    logger = build_logger(c.logger, f"eval-{ckpt.parent.name}", out, dataclasses.asdict(c))
    if logger:
        flat = {f"eval/{t}/{m}": v["value"] for t, e in report["tasks"].items() for m, v in e["model"].items()}
        logger.log_metrics(flat)
        finish_logger(logger)
    return report
