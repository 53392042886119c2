"""SIGTERM in the windows Lightning itself stops in (a validation batch; a step's end after the callbacks ran):
the stop still writes last.ckpt at the step it reached, and the stage's error says so (the CI flake of
test_signals.py, made deterministic in one process)."""

import os
import signal

import lightning as L
import pytest
import torch
from lightning.pytorch.demos.boring_classes import BoringModel

from c2s.errors import C2SInterrupted
from c2s.training.signals import GracefulStop


class _Kill(BoringModel):
    def __init__(self, where: str, at: int) -> None:
        super().__init__()
        self.where, self.at = where, at

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:  # runs after every callback's hook
        if self.where == "step_end" and self.global_step == self.at:
            os.kill(os.getpid(), signal.SIGTERM)

    def validation_step(self, batch, batch_idx):
        if self.where == "validation" and batch_idx == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().validation_step(batch, batch_idx)


@pytest.mark.parametrize("where", ["step_end", "validation"])
def test_sigterm_outside_the_step_check_still_saves_the_step(where, tmp_path):
    ckpt = tmp_path / "last.ckpt"
    stop = GracefulStop(ckpt)
    trainer = L.Trainer(
        max_steps=20,
        val_check_interval=4,
        limit_val_batches=3,
        callbacks=[stop],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )
    with pytest.raises(C2SInterrupted) as err, stop.guard("pretrain", trainer):
        trainer.fit(_Kill(where, at=3))
    assert err.value.code == 143 and "its checkpoint" in str(err.value) and "resume=auto" in str(err.value)
    step = 3 if where == "step_end" else 4  # validation runs after step 4
    assert trainer.global_step == step
    assert torch.load(ckpt, weights_only=True, map_location="cpu")["global_step"] == step
    resumed = L.Trainer(
        max_steps=6,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        val_check_interval=4,
        limit_val_batches=3,
        num_sanity_val_steps=0,
    )
    resumed.fit(BoringModel(), ckpt_path=ckpt, weights_only=True)
    assert resumed.global_step == 6
