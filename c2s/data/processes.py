"""Processes of a parallel prepare: the render workers and the one-off plan process.

Render workers are spawned (fresh interpreters: forkserver would block this process while its server
imports; fork would inherit the plan's threads). The plan process is forked where that is safe (see
:func:`fork_is_safe`): it then starts with this process's imports instead of redoing them (1.2 s on 2 cores).
Spawned children log like this process: the same level and format to stderr, and to the same log files
(hydra's job log), appended; a forked one inherits the handlers.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable


def _logging_setup() -> tuple[int, str | None, list[str]]:
    root = logging.getLogger()
    fmt = next((h.formatter._fmt for h in root.handlers if h.formatter is not None), None)
    files = [h.baseFilename for h in root.handlers if isinstance(h, logging.FileHandler)]
    return root.level, fmt, files


def import_plugins() -> None:
    """Import the modules named in ``C2S_PLUGINS`` (comma-separated): spawned processes start from a fresh
    interpreter, so plugins registered at import of those modules (CONTRIBUTING.md) exist there too."""
    for name in filter(None, (n.strip() for n in os.environ.get("C2S_PLUGINS", "").split(","))):
        importlib.import_module(name)


def _child_logging(level: int, fmt: str | None, files: list[str]) -> None:
    import_plugins()
    root = logging.getLogger()
    root.setLevel(level)
    for h in [logging.StreamHandler(), *(logging.FileHandler(f, mode="a") for f in files)]:
        h.setFormatter(logging.Formatter(fmt))
        root.addHandler(h)


def _worker_init(level: int, fmt: str | None, files: list[str]) -> None:
    _child_logging(level, fmt, files)
    import c2s.data.render_jobs  # noqa: F401  (import the render code while the plan runs)
    from c2s.data.assemble import warm_up

    warm_up()  # and pay the first batch's one-off costs then too


def worker_pool(workers: int):
    """``workers`` render processes, started at once so that their imports overlap the plan."""
    return mp.get_context("spawn").Pool(workers, initializer=_worker_init, initargs=_logging_setup())


def fork_is_safe() -> bool:
    """Whether a fork of this process can run numeric code: Linux, no other Python thread, no torch (its
    OpenMP pool does not survive a fork) and no numba thread pool started (nor does it). A command-line
    prepare forks; a prepare inside training spawns."""
    numba_pool = getattr(sys.modules.get("numba.np.ufunc.parallel"), "_is_initialized", False)
    return (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and "torch" not in sys.modules
        and not numba_pool
    )


def in_child(fn: Callable[..., Any], *args: Any, meanwhile: Callable[[], Any] | None = None) -> Any:
    """``fn(*args)`` in a child process that exits afterwards, so the memory it held (AnnData,
    the plan's arrays, torch imported with transformers: 630 MB at 1M cells) is not carried
    through rendering. ``meanwhile()`` runs here while the child works (after the child started, so
    threads it starts are not forked). Its exceptions re-raise here."""
    fork = fork_is_safe()
    init = {} if fork else {"initializer": _child_logging, "initargs": _logging_setup()}
    with ProcessPoolExecutor(1, mp_context=mp.get_context("fork" if fork else "spawn"), **init) as ex:
        future = ex.submit(fn, *args)
        if meanwhile is not None:
            meanwhile()
        return future.result()


def plan_then_workers(fn: Callable[[Any], Any], arg: Any, workers: int, also: Callable[[], Any] | None = None):
    """``fn(arg)`` in a child process (:func:`in_child`) while ``workers`` render processes start, and ``also()``
    runs here; returns their pool (terminated if ``fn`` fails)."""
    pool = None

    def meanwhile() -> None:
        nonlocal pool
        pool = worker_pool(workers)
        if also is not None:
            also()

    try:
        in_child(fn, arg, meanwhile=meanwhile)
    except BaseException:
        if pool is not None:
            pool.terminate()
        raise
    return pool
