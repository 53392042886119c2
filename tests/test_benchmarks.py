"""Every CPU benchmark runs at its smoke size, so none can rot: its code paths run against today's code and it
still ends with its ratio line (or says its baseline package is not installed: `make bench` installs them).
In one process, so the imports are paid once. The GPU benchmarks (gpu_*.py) need a GPU and are not run here."""

import re
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = [
    "cell_sentences",
    "tokens_and_packing",
    "train_loop",
    "vs_hf_trainer",
    "grpo_vs_trl",
    "prepare_scale",
    "prepare_workers",
]


@pytest.mark.parametrize("name", BENCH)
def test_benchmark_smoke(name, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [f"benchmarks/{name}.py", "--smoke"])
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "benchmarks" / f"{name}.py"), run_name="__main__")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.search(r"(ratio|/).*(\d+\.\d+x?|baseline skipped)$", last), last


def test_every_cpu_benchmark_is_smoked():
    on_disk = {p.stem for p in (ROOT / "benchmarks").glob("*.py") if not p.stem.startswith(("gpu_", "_"))}
    assert on_disk == set(BENCH)
