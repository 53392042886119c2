"""Processes of a parallel prepare: the render workers and the one-off plan process.

Render workers are spawned (fresh interpreters: forkserver would block this process while its server
imports; fork would inherit the plan's threads), before the plan (on the command line even before the
prepare code is imported: :func:`early_workers`), so that their imports use cores that would be idle.
The plan process is forked where that is safe (see :func:`fork_is_safe`): it then starts with this
process's imports instead of redoing them (1.2 s on 2 cores). Spawned children log like this process:
the same level and format to stderr, and to the same log files (hydra's job log), appended; a forked
one inherits the handlers.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import wait
from typing import Any, Callable, Iterable, Iterator


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


class RenderWorkers:
    """``n`` spawned render processes, each fed one call at a time through its own pipe. Unlike
    ``multiprocessing.Pool`` it starts no thread in this process (Pool starts three), so the plan process
    can still be forked after the workers started (:func:`fork_is_safe`), and their imports can overlap
    this process's own and the input hash. A worker that dies (killed, out of memory) is an error here,
    not a hang: Pool would wait for its lost job for ever."""

    def __init__(self, n: int) -> None:
        ctx = mp.get_context("spawn")
        self.size, self._procs, self._conns = n, [], []
        setup = _logging_setup()
        for i in range(n):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(there, setup), name=f"c2s-render-{i}", daemon=True)
            proc.start()
            there.close()
            self._procs.append(proc)
            self._conns.append(here)

    def imap_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``fn(item)`` for every item, in worker order of finishing; each worker gets its first item now (the
        caller may do other work before it iterates), the rest one at a time as workers come free. A
        worker's exception is raised here, and ends the pool."""
        todo, busy = list(items)[::-1], set()
        for conn in self._conns[: len(todo)]:
            conn.send((fn, todo.pop()))
            busy.add(conn)
        return self._results(fn, todo, busy)

    def _results(self, fn, todo: list, busy: set) -> Iterator[Any]:
        try:
            yield from self._drain(fn, todo, busy)
        except BaseException:  # other workers may still be on their jobs: the pool cannot be used again
            self.terminate()
            raise

    def _drain(self, fn, todo: list, busy: set) -> Iterator[Any]:
        while busy:
            for conn in wait(list(busy)):
                try:
                    ok, value = conn.recv()
                except EOFError:
                    proc = self._procs[self._conns.index(conn)]
                    proc.join(1)
                    raise RuntimeError(
                        f"Render worker {proc.name} ended mid-job (exit code {proc.exitcode}; -9 is a kill, often "
                        "for memory). Finished jobs are kept: run the same command again to resume, with fewer "
                        "workers (workers=N) if memory ran short."
                    ) from None
                busy.remove(conn)
                if not ok:
                    raise value
                if todo:
                    conn.send((fn, todo.pop()))
                    busy.add(conn)
                yield value

    def terminate(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            proc.join()


def _serve(conn, setup: tuple[int, str | None, list[str]]) -> None:
    """A render worker: set up, then run what arrives until the parent is gone (its end of the pipe closed) or
    ends it."""
    _worker_init(*setup)
    while True:
        try:
            fn, arg = conn.recv()
        except (EOFError, OSError):
            return
        try:
            out = (True, fn(arg))
        except Exception as exc:  # noqa: BLE001 - raised again in the parent
            out = (False, exc)
        try:
            conn.send(out)
        except (BrokenPipeError, EOFError):
            return
        except Exception as exc:  # noqa: BLE001 - an exception that does not pickle: its text
            conn.send((False, RuntimeError(f"{type(out[1]).__name__}: {out[1]}; (pickling it failed: {exc})")))


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


def early_workers(cfg, workers: int) -> RenderWorkers | None:
    """Render workers started before this process imports the prepare code and hashes the inputs, where a run
    will render with several (``step=all``, ``workers`` > 1) and probably not reuse shards (none of this dataset
    name in ``shards_root`` yet: a reuse would have started them for nothing). Their imports and warm-up, 1.6 s
    of CPU each, then use the cores this process leaves idle before the plan starts (2 s at 1M cells on 2 cores)
    instead of competing with the plan."""
    from pathlib import Path

    if cfg.step != "all" or workers < 2 or any(Path(cfg.shards_root).glob(f"{cfg.data.name}-*/manifest.json")):
        return None
    return RenderWorkers(workers)
