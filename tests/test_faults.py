"""Faults during training: an interrupted checkpoint write, a corrupt last.ckpt, a hostile one.
Each resumes to the weights of an uninterrupted run, or stops with a message naming the file."""

from __future__ import annotations

import csv
import json
import os
import pickle

import pytest
import torch

from c2s.config.compose import compose_config
from c2s.errors import C2SInputError
from c2s.training.checkpoints import AtomicCheckpointIO, previous, resume_point
from tests.conftest import train_overrides
from train import run

STEPS = 8


def _train(tmp, *extra):
    cfg = compose_config(
        "train",
        train_overrides(
            tmp,
            "~stage@stages.sft",
            f"stages.pretrain.max_steps={STEPS}",
            "stages.pretrain.ckpt_every_n_steps=2",
            "stages.pretrain.log_every_n_steps=1",
            *extra,
        ),
    )
    return run(cfg)


def _weights(stage_dir):
    return torch.load(stage_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    _train(tmp)
    return _weights(tmp / "run" / "pretrain")


def test_interrupted_checkpoint_write_resumes_to_the_same_weights(reference, tmp_path, monkeypatch, caplog):
    real_save, calls = torch.save, []

    def disk_full_on_third(obj, f, *a, **k):  # the third checkpoint (step 6): half written, then ENOSPC
        calls.append(1)
        if len(calls) == 3:
            f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", disk_full_on_third)
    with pytest.raises(OSError, match="No space left"):
        _train(tmp_path, "logger=csv")
    monkeypatch.setattr(torch, "save", real_save)
    stage = tmp_path / "run" / "pretrain"
    ckpts = stage / "checkpoints"
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 4  # the old one, whole
    assert torch.load(previous(ckpts / "last.ckpt"), weights_only=True)["global_step"] == 2
    assert sorted(p.name for p in ckpts.iterdir()) == ["last.ckpt", "last.ckpt.prev"]  # no temporary left
    rows_before = list(csv.DictReader(open(tmp_path / "run" / "logs" / "metrics.csv")))
    assert rows_before

    # and then the file is damaged as the old writer left it: resume falls back to .prev
    (ckpts / "last.ckpt").write_bytes((ckpts / "last.ckpt").read_bytes()[:1000])
    _train(tmp_path, "logger=csv")
    assert "is unreadable" in caplog.text and "resuming from the previous checkpoint" in caplog.text
    assert (ckpts / "last.ckpt.corrupt").exists()  # kept, not deleted
    resumed = _weights(stage)
    assert resumed.keys() == reference.keys()
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)  # bit-identical to the uninterrupted run

    steps = [json.loads(line)["step"] for line in (stage / "history.jsonl").read_text().splitlines()]
    assert steps == list(range(1, STEPS + 1))  # no step twice, none missing
    rows = list(csv.DictReader(open(tmp_path / "run" / "logs" / "metrics.csv")))
    logged = [int(r["step"]) for r in rows if r.get("pretrain/train/loss")]
    assert sorted(logged) == sorted(set(logged)) and min(logged) <= 2  # rows from before the fault kept, once


def test_unreadable_checkpoints_name_the_file_and_the_fix(tmp_path):
    ckpts = tmp_path / "stage" / "checkpoints"
    ckpts.mkdir(parents=True)
    (ckpts / "last.ckpt").write_bytes(b"garbage")
    with pytest.raises(C2SInputError, match=r"last\.ckpt is unreadable.*no previous one.*rm -r .*stage"):
        resume_point(ckpts / "last.ckpt", tmp_path / "stage")
    previous(ckpts / "last.ckpt").write_bytes(b"more garbage")
    with pytest.raises(C2SInputError, match=r"and so is .*last\.ckpt\.prev"):
        resume_point(ckpts / "last.ckpt", tmp_path / "stage")
    assert resume_point(tmp_path / "none.ckpt", tmp_path) is None


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def test_pickled_code_in_a_checkpoint_never_runs(tmp_path):
    marker = tmp_path / "marker"
    ckpt = tmp_path / "last.ckpt"
    torch.save({"global_step": 3, "state_dict": {}, "payload": _RunsCode(marker)}, ckpt, pickle_protocol=2)
    with pytest.raises(C2SInputError, match="unreadable"):
        resume_point(ckpt, tmp_path)
    with pytest.raises(pickle.UnpicklingError):
        AtomicCheckpointIO().load_checkpoint(ckpt)
    assert not marker.exists()


def test_atomic_save_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 1}, path)
    io.save_checkpoint({"global_step": 2}, path)
    assert torch.load(previous(path), weights_only=True)["global_step"] == 1

    def failing(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", failing)
    with pytest.raises(OSError):
        io.save_checkpoint({"global_step": 3}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["global_step"] == 2
    assert sorted(os.listdir(tmp_path)) == ["last.ckpt", "last.ckpt.prev"]


def test_csv_log_appends_keeps_rows_and_widens_its_header(tmp_path):
    from c2s.training.csv_log import KeepingWriter

    (tmp_path / "metrics.csv").write_text("a,step\n1.0,0\n")  # rows of an earlier process
    w = KeepingWriter(str(tmp_path))
    w.log_metrics({"a": 2.0}, step=1)
    w.save()
    assert (tmp_path / "metrics.csv").read_text() == "a,step\n1.0,0\n2.0,1\n"  # appended, nothing lost
    w.log_metrics({"b": 3.0}, step=2)
    w.save()
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [(r["a"], r["b"], r["step"]) for r in rows] == [("1.0", "", "0"), ("2.0", "", "1"), ("", "3.0", "2")]
    # resuming from global step 1 redoes the batch logged at step 1 (training rows log the step before
    # the optimizer step) and everything after it
    assert w.drop_after("", 1) == 2
    assert [r["step"] for r in csv.DictReader(open(tmp_path / "metrics.csv"))] == ["0"]
