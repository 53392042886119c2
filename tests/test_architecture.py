"""The layering and style rules hold: import-linter's contracts (.importlinter: packages import only the layers
below them, no cycles between siblings) and ruff (pyproject.toml: lint and format, line length 120)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make setup` (it is in the dev extra).")
    return str(path)


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    out = _run(_tool("lint-imports"), "--no-cache")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_import_contracts_can_fail(tmp_path):
    """The layers contract catches an upward import (a low package importing the training layer). The probe is
    planted in a copy of the package, never in the source tree (another process may be using this checkout)."""
    shutil.copytree(ROOT / "c2s", tmp_path / "c2s", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    (tmp_path / "c2s" / "sentences" / "_upward_probe.py").write_text("import c2s.training.run  # noqa: F401\n")
    out = subprocess.run(
        [_tool("lint-imports"), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert out.returncode != 0 and "c2s.sentences is not allowed to import c2s.training" in out.stdout, out.stdout
    assert not (ROOT / "c2s" / "sentences" / "_upward_probe.py").exists()


def test_ruff_lint_and_format():
    ruff = _tool("ruff")
    lint = _run(ruff, "check", ".")
    assert lint.returncode == 0, lint.stdout[-4000:]
    fmt = _run(ruff, "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout[-4000:]


def test_modules_stay_short():
    files = _run("git", "ls-files", "*.py").stdout.split()
    assert files, "git ls-files found no Python files"
    long = {f: n for f in files if (n := len((ROOT / f).read_text().splitlines())) > 300}
    assert not long, f"Modules over 300 lines: {long}"
