"""Evaluate a checkpoint: generation on the test split, metrics with 95% CIs, baselines, report.

    python evaluate.py                                        # the main job's SFT export
    python evaluate.py ckpt=outputs/runs/main/pretrain/hf tasks=[cell_lm,nl_interpretation]
    python evaluate.py ckpt=outputs/runs/main/sft/checkpoints/last.ckpt
    python evaluate.py ckpt=/models/C2S-Scale-Gemma-2-2B data=h5ad data.path=my.h5ad \
        data.cell_type_key=cell_type prompt_format=c2s_scale tasks=[cell_type_annotation]   # zero-shot

Writes report.json, report.md, predictions.jsonl, confusion_matrix.png and umap.png to out_dir. The job
itself: c2s.training.eval_job.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from c2s.cli import exit_on_input_error, hydra_entry
from c2s.config import register_configs
from c2s.config.compose import CONFIG_DIR
from c2s.training.eval_job import run

register_configs()
__all__ = ["main", "run"]


@hydra.main(config_path=CONFIG_DIR, config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    exit_on_input_error(run, cfg, "evaluate")


if __name__ == "__main__":
    hydra_entry(main)
