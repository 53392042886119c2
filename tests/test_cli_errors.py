"""Every CLI fails the same way on bad input: one logged line naming the fix, exit code 2, no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, cwd):
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["-m", "c2s.cli.prepare", "data=h5ad", "data.path=missing.h5ad"], "no such file"),
        (["-m", "c2s.cli.prepare", "data=h5ad", "data.path=in", "top_k=0"], "top_k=0 must be a positive integer"),
        (  # render workers already started (early): ended, and the error still one line
            ["-m", "c2s.cli.prepare", "data=h5ad", "data.path=in", "workers=2", "data.cell_type_key=nope"],
            "cell_type_key='nope' is not an obs column",
        ),
        (
            ["-m", "c2s.cli.sentences", "data=h5ad", "data.path=in", "out_dir=s"],
            "is a directory, and this step reads one",
        ),
        ([str(ROOT / "evaluate.py"), "ckpt=in/a.h5ad"], "is not a torch checkpoint"),
        ([str(ROOT / "train.py"), "stages.pretrain.max_epochs=0"], "0 would export untrained weights"),
        ([str(ROOT / "train.py"), "run_dir=/proc/c2s-run"], "run_dir='/proc/c2s-run' is not writable"),
        (["-m", "c2s.cli.prepare", "top_k=lots"], "top_k"),  # Hydra's own type error: exit 2 as well
        (["-m", "c2s.cli.prepare", "no_such_key=1"], "no_such_key"),
        (["-m", "c2s.scaling", "no_such_sweep"], "is not a directory"),
        (["-m", "c2s.cli.plan", "experiment=no_such_experiment"], "Could not find 'experiment/no_such_experiment'"),
    ],
)
def test_cli_bad_input_exits_2_without_traceback(args, message, tmp_path):
    from tests.conftest import make_counts

    (tmp_path / "in").mkdir()
    make_counts(30, 20).write_h5ad(tmp_path / "in" / "a.h5ad")
    out = _run(args, tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    assert message in out.stderr + out.stdout
    assert "Traceback" not in out.stderr + out.stdout
