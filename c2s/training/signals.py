"""Stopping a stage on a signal without passing for success.

- **SIGTERM** (``kill``, ``scancel``, a scheduler's time limit) and **SIGUSR1** (SLURM's pre-emption warning,
  ``#SBATCH --signal=B:USR1@90``): the step in progress finishes, ``last.ckpt`` is written at that step (the
  point periodic checkpoints are written at, so ``resume=auto`` continues the same curve), and the job exits
  with 128 + the signal's number and the command that resumes it. Under SLURM, SIGUSR1 also requeues the job
  (``scontrol requeue``; submit with ``--requeue``), and the requeued job resumes by itself (``resume=auto``).
- **Ctrl-C** (SIGINT): training stops at once; the last periodic checkpoint stays, the exit status is 130 and the
  resume command is printed.

Under several processes the ranks agree at every step boundary (one all-reduce of a flag), so they stop at the
same step and write one checkpoint together.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from c2s.errors import C2SInterrupted

log = logging.getLogger(__name__)


def resume_command() -> str:
    """The command line of this process, with ``resume=auto``: it continues the run."""
    args = [a for a in sys.argv if not a.startswith("resume=")]
    return " ".join(shlex.quote(a) for a in ["python", *args, "resume=auto"])


class GracefulStop(Callback):
    """See the module docstring. ``ckpt``: the stage's ``last.ckpt``."""

    def __init__(self, ckpt: Path) -> None:
        self.ckpt, self.signal, self._usr1, self.saved = ckpt, None, False, False
        self._previous = None

    def on_fit_start(self, trainer, module) -> None:
        try:
            self._previous = signal.signal(signal.SIGUSR1, self._on_usr1)
        except ValueError:  # not the main thread (a notebook's worker): SIGTERM still works through Lightning
            self._previous = None

    def on_fit_end(self, trainer, module) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGUSR1, self._previous)

    def _on_usr1(self, signum, frame) -> None:
        log.warning("Received SIGUSR1 (pre-emption warning): stopping after this step.")
        self._usr1 = True

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if (batch_idx + 1) % trainer.accumulate_grad_batches:
            return  # mid-accumulation: stop after the optimizer step
        asked = bool(trainer.received_sigterm or self._usr1)
        if trainer.world_size > 1:  # every rank stops at the same step
            asked = trainer.strategy.reduce_boolean_decision(asked, all=False)
        if not asked:
            return
        self.signal = signal.SIGUSR1 if self._usr1 else signal.SIGTERM
        trainer.save_checkpoint(self.ckpt)
        self.saved = True
        if trainer.is_global_zero:
            log.warning(
                "Stopped by %s after step %d; checkpoint written: %s", self.signal.name, trainer.global_step, self.ckpt
            )
            if self.signal == signal.SIGUSR1 and os.environ.get("SLURM_JOB_ID"):
                _requeue(os.environ["SLURM_JOB_ID"])
        raise SIGTERMException()

    def on_exception(self, trainer, module, exception) -> None:
        if isinstance(exception, KeyboardInterrupt):
            self.signal = signal.SIGINT
        elif isinstance(exception, SIGTERMException) and self.signal is None:
            # Lightning stopped outside the step-end check above: the signal came during a validation batch or
            # after this hook ran at a step's end. Weights and optimizer are a whole step's either way, so the
            # step is saved, not lost. Several ranks may not all be here (Lightning raises per rank), so they keep
            # the last periodic checkpoint rather than risk a collective that hangs.
            self.signal = signal.SIGTERM
            if trainer.world_size == 1 and trainer.global_step > 0 and trainer.state.fn == TrainerFn.FITTING:
                trainer.save_checkpoint(self.ckpt)
                self.saved = True
                log.warning("Stopped by SIGTERM at step %d; checkpoint written: %s", trainer.global_step, self.ckpt)

    @contextlib.contextmanager
    def guard(self, stage: str, trainer) -> Iterator[None]:
        """Turns a signal's stop inside ``trainer.fit``/``validate`` into :meth:`interrupted` (never exit 0)."""
        try:
            yield
        except (SystemExit, KeyboardInterrupt):  # SIGTERMException is a SystemExit; Lightning's Ctrl-C exits 1
            if self.signal is None:
                raise
            raise self.interrupted(stage, trainer.global_step) from None

    def interrupted(self, stage: str, step: int) -> C2SInterrupted:
        """The error that ends the job: its exit status and the line that says how to go on."""
        saved = "its checkpoint" if self.saved else "the last periodic checkpoint"
        return C2SInterrupted(
            f"Stage {stage} was stopped by {self.signal.name} at step {step}; {saved} is in {self.ckpt.parent}. "
            f"Continue with: {resume_command()}",
            128 + int(self.signal),
        )


def _requeue(job_id: str) -> None:
    try:
        out = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("Could not requeue SLURM job %s (%s): resubmit it to continue.", job_id, exc)
        return
    if out.returncode == 0:
        log.warning("Requeued SLURM job %s: it resumes from the checkpoint when it starts again.", job_id)
    else:
        log.warning("scontrol requeue %s failed (%s): resubmit the job to continue.", job_id, out.stderr.strip())
