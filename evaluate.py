"""Evaluate a checkpoint: generation on the test split, metrics with 95% CIs, baselines, report.

    python evaluate.py                                        # the main job's SFT export
    python evaluate.py ckpt=outputs/runs/main/pretrain/hf tasks=[cell_lm,nl_interpretation]
    python evaluate.py ckpt=outputs/runs/main/sft/checkpoints/last.ckpt

Writes report.json, report.md, confusion_matrix.png and umap.png to out_dir.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from c2s.cli import exit_on_input_error, hydra_entry
from c2s.config import register_configs
from c2s.config.compose import CONFIG_DIR

register_configs()


def run(cfg: DictConfig) -> dict:
    from c2s.eval.load import load_for_eval, to_device
    from c2s.eval.report import write_report
    from c2s.eval.runner import Evaluator
    from c2s.training.loggers import build_logger, finish_logger

    from c2s.config.schema import EvaluateConfig
    from c2s.config.validate import validate_config

    c = validate_config(cfg, EvaluateConfig, outputs=("out_dir",), data=False)
    ckpt = Path(c["ckpt"])
    model, tokenizer, shards = load_for_eval(ckpt, c["shards"], init_from=c["init_from"],
                                             trust_remote_code=c["trust_remote_code"])
    model = to_device(model, c["device"])
    out = Path(c["out_dir"]) if c["out_dir"] else (ckpt.parent if ckpt.is_file() else ckpt).parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    report = Evaluator(model, tokenizer, shards, c).run(out)
    report["ckpt"] = str(ckpt)
    text = write_report(report, out, f"Evaluation of `{ckpt}`")
    print(text)
    if ckpt.is_dir():  # an HF export: its model card gets the table
        from c2s.training.model_card import fill_evaluation

        fill_evaluation(ckpt, text)
    logger = build_logger(c["logger"], f"eval-{ckpt.parent.name}", out, c) if c.get("logger") else False
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
