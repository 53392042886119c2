"""The cell-sentence step as configured: configs compose, bad keys fail, the job writes its outputs."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError, ValidationError

from c2s.cli.sentences import run
from c2s.config import register_configs
from c2s.config.compose import CONFIG_DIR
from c2s.sentences import CellSentences, InverseFit

ROOT = Path(__file__).resolve().parents[1]


def _compose(overrides):
    register_configs()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="sentences", overrides=overrides)


def test_run_in_process(tmp_path):
    cfg = _compose([f"out_dir={tmp_path}", "top_k=20"])
    summary = run(cfg)
    cs = CellSentences.load(tmp_path / "sentences.npz")
    assert cs.indices.dtype == np.int32 and cs.indices.shape == (700, 20)
    assert summary["n_cells"] == 700 and summary["matrix"] == "adata.raw.X"
    assert InverseFit.load(tmp_path / "inverse_fit.json").r2 >= 0.85
    assert (tmp_path / "inverse_fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"


def test_user_h5ad_by_overrides(tmp_path, counts_adata):
    path = tmp_path / "mine.h5ad"
    counts_adata.write_h5ad(path)
    cfg = _compose(["data=h5ad", f"data.path={path}", "data.backed=true", f"out_dir={tmp_path}/out"])
    assert cfg.data.name == "mine"
    assert run(cfg)["matrix_kind"] == "counts"


def test_unknown_and_mistyped_keys_rejected():
    with pytest.raises(ConfigCompositionException, match="data.colour"):
        _compose(["data.colour=red"])
    with pytest.raises((ConfigCompositionException, ConfigKeyError, ValidationError), match="top_k"):
        _compose(["top_k=many"])


@pytest.mark.slow
def test_main_entry_point(tmp_path):
    out = tmp_path / "cli"
    proc = subprocess.run(
        [sys.executable, "-m", "c2s.cli.sentences", f"out_dir={out}", f"hydra.run.dir={tmp_path}/h"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inverse_fit"]["r2"] >= 0.85
