"""The cell-sentence step: AnnData -> int32 sentences + inverse fit, written atomically.

    python -m c2s.cli.sentences                                   # pbmc68k_reduced
    python -m c2s.cli.sentences data=h5ad data.path=my.h5ad top_k=200

Writes to ``out_dir``: sentences.npz, inverse_fit.json, inverse_fit.png, summary.json.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from c2s.atomic import write_json_atomic
from c2s.cli import exit_on_input_error, hydra_entry
from c2s.config import register_configs
from c2s.config.compose import CONFIG_DIR
from c2s.io.sources import open_source
from c2s.sentences.convert import sentences_from_source
from c2s.sentences.inverse import fit_points, sample_rank_expression
from c2s.sentences.plots import plot_inverse_fit

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    """Run the step for a composed config; return the summary that is also written to disk."""
    from c2s.config.data import SentencesConfig
    from c2s.config.validate import validate_config

    validate_config(cfg, SentencesConfig, outputs=("out_dir",))
    d = cfg.data
    out = Path(cfg.out_dir)
    source = open_source(str(d.path), d)
    t0 = time.perf_counter()
    sentences = sentences_from_source(source, top_k=cfg.top_k, chunk_size=cfg.chunk_size, progress=True)
    seconds = time.perf_counter() - t0
    rank, value, n_fit = sample_rank_expression(source, n_cells=cfg.fit_cells, seed=cfg.seed, top_k=cfg.fit_top_k)
    fit = fit_points(rank, value, n_cells=n_fit, top_k=cfg.fit_top_k, seed=cfg.seed)

    sentences.save(out / "sentences.npz")
    fit.save(out / "inverse_fit.json")
    plot_inverse_fit(rank, value, fit, out / "inverse_fit.png")
    summary = {
        "data": OmegaConf.to_container(d, resolve=True),
        "matrix": source.where,
        "matrix_kind": sentences.matrix_kind,
        "n_cells": len(sentences),
        "n_genes": int(source.n_vars),
        "n_empty_dropped": sentences.n_empty_dropped,
        "top_k": sentences.top_k,
        "mean_sentence_length": float(sentences.lengths.mean()) if len(sentences) else 0.0,
        "seconds": round(seconds, 3),
        "cells_per_second": round(source.n_obs / max(seconds, 1e-9), 1),
        "inverse_fit": asdict(fit),
        "example": sentences.render([0])[0] if len(sentences) else "",
    }
    write_json_atomic(out / "summary.json", summary)
    log.info(
        "%d cells -> %s (%d genes each at most; %d empty dropped). Inverse fit: "
        "expr = %.3f %+.3f*log10(1+rank), R^2 = %.3f, Pearson %.3f, Spearman %.3f",
        len(sentences),
        out,
        sentences.top_k,
        sentences.n_empty_dropped,
        fit.intercept,
        fit.slope,
        fit.r2,
        fit.pearson_r,
        fit.spearman_r,
    )
    return summary


register_configs()


@hydra.main(config_path=CONFIG_DIR, config_name="sentences", version_base="1.3")
def main(cfg: DictConfig) -> None:
    exit_on_input_error(run, cfg, "sentences")


if __name__ == "__main__":
    hydra_entry(main)
