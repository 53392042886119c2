"""Evaluate a checkpoint: generation on the test split, metrics with 95% CIs, baselines, report.

    python evaluate.py                                        # the main job's SFT export
    python evaluate.py ckpt=outputs/runs/main/pretrain/hf tasks=[cell_lm,nl_interpretation]
    python evaluate.py ckpt=outputs/runs/main/sft/checkpoints/last.ckpt
    python evaluate.py ckpt=/models/C2S-Scale-Gemma-2-2B data=h5ad data.path=my.h5ad \
        data.cell_type_key=cell_type prompt_format=c2s_scale tasks=[cell_type_annotation]   # zero-shot

Writes report.json, report.md, predictions.jsonl, confusion_matrix.png and umap.png to out_dir.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import hydra
from omegaconf import DictConfig

from c2s.cli import exit_on_input_error, hydra_entry
from c2s.config import register_configs
from c2s.config.compose import CONFIG_DIR

register_configs()


def run(cfg: DictConfig) -> dict:
    from c2s.config.evaluate import EvaluateConfig
    from c2s.config.validate import validate_config
    from c2s.eval.job import evaluate
    from c2s.training.loggers import build_logger, finish_logger

    zero_shot = cfg.get("data") is not None
    c = validate_config(cfg, EvaluateConfig, outputs=("out_dir",), data=zero_shot)
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


@hydra.main(config_path=CONFIG_DIR, config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    exit_on_input_error(run, cfg, "evaluate")


if __name__ == "__main__":
    hydra_entry(main)
