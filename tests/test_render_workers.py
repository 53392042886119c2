"""The render worker processes: every result comes back, a worker's error is raised in the parent as itself, a
worker that dies is an error rather than a hang, and starting them leaves no thread here (so the plan can fork)."""

import os
import signal
import threading

import pytest

from c2s.config.prepare import PrepareConfig
from c2s.data.processes import RenderWorkers, early_workers
from c2s.errors import C2SInputError


def _square(x: int) -> int:
    if x < 0:
        raise C2SInputError(f"negative input {x}: give a count")
    return x * x


def _die(_) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_results_errors_and_a_dead_worker():
    threads = threading.active_count()
    pool = RenderWorkers(2)
    try:
        assert threading.active_count() == threads  # multiprocessing.Pool would have started three
        assert sorted(pool.imap_unordered(_square, range(7))) == [x * x for x in range(7)]
        with pytest.raises(C2SInputError, match="negative input -3: give a count"):
            list(pool.imap_unordered(_square, [1, -3]))
        assert not any(p.is_alive() for p in pool._procs)  # ended: the other worker's result is not left queued
    finally:
        pool.terminate()
    pool = RenderWorkers(1)
    with pytest.raises(RuntimeError, match=r"ended mid-job \(exit code -9"):
        list(pool.imap_unordered(_die, [0]))


def test_no_early_workers_where_the_run_would_not_render_with_several(tmp_path):
    cfg = PrepareConfig(shards_root=str(tmp_path))
    cfg.data.name = "pbmc"
    assert early_workers(cfg, 1) is None
    cfg.step = "plan"
    assert early_workers(cfg, 2) is None
    cfg.step = "all"
    (tmp_path / "pbmc-0123456789ab").mkdir()
    (tmp_path / "pbmc-0123456789ab" / "manifest.json").write_text("{}")  # shards of this data: likely a reuse
    assert early_workers(cfg, 2) is None
