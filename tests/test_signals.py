"""A stage stopped by a signal never passes for success: SIGTERM writes last.ckpt at the step it stopped after,
exits 143 with the resume command, and resume=auto finishes the run; Ctrl-C exits 130. A second run in the same
run_dir is refused while the first holds it."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.test_distributed import _cmd

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
ARGS = (
    "stages.pretrain.max_steps=300",
    "stages.pretrain.ckpt_every_n_steps=1000",  # no periodic checkpoint: the one found is the signal's
    "stages.pretrain.max_epochs=-1",
    "stages.pretrain.val_every_n_steps=1000",
)


def _start(cmd):
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_steps(hist: Path, n: int, proc) -> None:
    deadline = time.time() + 240
    while time.time() < deadline and (not hist.exists() or len(hist.read_text().splitlines()) < n):
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        time.sleep(0.05)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["sigterm", "sigint"])
def test_signal_stops_with_nonzero_status_and_resume_command(sig, code, tmp_path):
    cmd = _cmd(tmp_path, "run", *ARGS)
    stage = tmp_path / "run" / "pretrain"
    proc = _start(cmd)
    _wait_for_steps(stage / "history.jsonl", 4, proc)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == code, out[-3000:]
    assert "Continue with: python train.py" in out and "resume=auto" in out
    assert not (stage / "summary.json").exists()
    if sig == signal.SIGTERM:
        steps = [json.loads(line)["step"] for line in (stage / "history.jsonl").read_text().splitlines()]
        ckpt = torch.load(stage / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
        assert ckpt["global_step"] == steps[-1]  # written at the step it stopped after
        done = subprocess.run(
            [*cmd, f"stages.pretrain.max_steps={steps[-1] + 3}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        rows = [json.loads(line)["step"] for line in (stage / "history.jsonl").read_text().splitlines()]
        assert rows == list(range(1, steps[-1] + 4))  # resumed after the stop step, each step once


def test_two_runs_in_one_run_dir(tmp_path):
    cmd = _cmd(tmp_path, "run", *ARGS)
    first = _start(cmd)
    try:
        _wait_for_steps(tmp_path / "run" / "pretrain" / "history.jsonl", 1, first)
        second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
        err = second.stderr + second.stdout
        assert f"is in use by pid {first.pid} on host" in err and "Traceback" not in err
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=240)
    lock = tmp_path / "run" / ".c2s.lock"
    assert lock.exists() and lock.read_text() == ""  # released: the next run takes it


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    from c2s.locks import dir_lock

    run = tmp_path / "run"
    run.mkdir()
    (run / ".c2s.lock").write_text(json.dumps({"host": "gone", "pid": 999999, "started": "then"}))
    with dir_lock(run, "run_dir"):  # no live holder: the kernel's lock is free
        assert json.loads((run / ".c2s.lock").read_text())["pid"] == os.getpid()
