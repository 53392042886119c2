"""2-process CPU (gloo) training under ddp and fsdp (FSDP2), with checkpoint save and resume,
and an interrupted single-process run that resumes onto the uninterrupted loss curve."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _cmd(tmp, run, *extra):
    return [
        sys.executable,
        "train.py",
        "data=synthetic",
        f"shards_root={tmp}/shards",
        f"run_dir={tmp}/{run}",
        "logger=csv",
        "tasks.names=[cell_lm,cell_type_annotation]",
        "top_k=30",
        "tasks.options.genes_per_cell=30",
        "tokenizer.text_vocab_size=300",
        "~stage@stages.sft",
        "stages.pretrain.max_seq_len=256",
        "stages.pretrain.batch_size=4",
        *extra,
    ]


def _history(path):
    rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
    last = {}
    for r in rows:  # a step recorded twice (before a crash and after resume) keeps its last value
        last[r["step"]] = r["loss"]
    return rows, last


def _run(cmd, timeout=400):
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_process_train_save_resume(strategy, tmp_path):
    """fsdp trains Gemma-2 in full: its tied embedding matrix must stay one matrix through sharding and export."""
    model = ["model=gemma2-tiny"] if strategy == "fsdp" else []
    base = _cmd(
        tmp_path,
        "run",
        *model,
        f"strategy={strategy}",
        "strategy.accelerator=cpu",
        "strategy.devices=2",
        "stages.pretrain.ckpt_every_n_steps=3",
    )
    _run(base + ["stages.pretrain.max_steps=6"])
    stage = tmp_path / "run" / "pretrain"
    assert (stage / "checkpoints" / "last.ckpt").exists()
    assert (stage / "hf" / "model.safetensors").exists()
    (stage / "summary.json").unlink()  # not done: the next run resumes from last.ckpt
    proc = _run(base + ["stages.pretrain.max_steps=8"])
    assert "Resuming stage pretrain" in proc.stdout + proc.stderr
    rows, losses = _history(stage / "history.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert all(v == v and v < 10 for v in losses.values())
    summary = json.loads((stage / "summary.json").read_text())
    assert summary["steps"] == 8
    if strategy == "fsdp":
        from safetensors.torch import load_file
        from transformers import AutoModelForCausalLM

        reloaded = AutoModelForCausalLM.from_pretrained(stage / "hf")
        assert reloaded.get_output_embeddings().weight is reloaded.get_input_embeddings().weight
        state = load_file(stage / "hf" / "model.safetensors")
        assert "lm_head.weight" not in state or torch.equal(state["lm_head.weight"], state["model.embed_tokens.weight"])
        assert summary["parameters"]["total"] == sum(p.numel() for p in reloaded.parameters())


def test_interrupted_run_resumes_onto_the_same_curve(tmp_path):
    args = (
        "stages.pretrain.max_steps=24",
        "stages.pretrain.ckpt_every_n_steps=4",
        "stages.pretrain.batch_size=8",
        "stages.pretrain.max_seq_len=512",
        "stages.pretrain.max_epochs=-1",
    )
    _run(_cmd(tmp_path, "straight", *args))
    _, reference = _history(tmp_path / "straight" / "pretrain" / "history.jsonl")
    assert sorted(reference) == list(range(1, 25))

    cmd = _cmd(tmp_path, "crashed", *args)
    hist = tmp_path / "crashed" / "pretrain" / "history.jsonl"
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and (not hist.exists() or len(hist.read_text().splitlines()) < 10):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "crashed" / "pretrain" / "summary.json").exists(), "run finished before the kill"
    proc = _run(cmd)
    assert "Resuming stage pretrain" in proc.stdout + proc.stderr
    rows, resumed = _history(hist)
    assert [r["step"] for r in rows] == list(range(1, 25))  # steps after the checkpoint were redone, logged once
    assert resumed == reference  # identical loss curve, step by step
