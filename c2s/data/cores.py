"""``workers=auto``: how many render processes prepare starts on this machine.

The cores this process may run on: its CPU affinity, a cgroup CPU quota (containers, SLURM's cgroup plugin) and
``SLURM_CPUS_PER_TASK``, whichever is smallest, never the whole node's count. Capped by memory: each render
process holds ``WORKER_BYTES`` at most (measured at 1M cells: 760 MB peak in the largest process, 1.7-1.8 GB
summed over the tree with the plan and two workers, each mapping the 200 MB cell store), and the processes
together stay within the memory this process may use (available memory, or a cgroup limit) less a reserve. Below
``SMALL_CELLS`` cells per task (cells × tasks < SMALL_CELLS × 18, the 18 default tasks) one process renders:
starting processes costs more than they save there (measured on 2 cores, prepare end to end, every default task:
20k cells 5.0 s with one process and 5.9 s with two, 50k cells 7.5 s with either, 100k cells 10.8 s and 8.8 s;
the cell-type task alone at 100k cells: 4.4 s with one, 5.2 s with two). The choice and its reasons are logged;
the output bytes do not depend on it.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

log = logging.getLogger(__name__)
WORKER_BYTES = 800 * 2**20
RESERVE_BYTES = 1 << 30
SMALL_CELLS = 50_000
DEFAULT_TASKS = 18  # tasks rendered by the default task set, at which SMALL_CELLS was measured


def _cgroup_cpus() -> float | None:
    """The cgroup v2 (``cpu.max``) or v1 (``cpu.cfs_quota_us``) CPU quota, in cores; None when unlimited."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def _cgroup_memory() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    return None


def usable_cores() -> tuple[int, dict[str, float | int | None]]:
    """(cores this process may use, the limits that decided it)."""
    limits: dict[str, float | int | None] = {
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
        "cgroup": _cgroup_cpus(),
        "SLURM_CPUS_PER_TASK": int(os.environ["SLURM_CPUS_PER_TASK"])
        if os.environ.get("SLURM_CPUS_PER_TASK", "").isdigit()
        else None,
    }
    return max(1, min(math.floor(v) if isinstance(v, float) else v for v in limits.values() if v)), limits


def usable_memory() -> int:
    """Bytes this process may still use: available memory, within a cgroup limit where one is set."""
    import psutil

    available = psutil.virtual_memory().available
    limit = _cgroup_memory()
    return min(available, limit) if limit else available


def auto_workers(n_cells: int | None, n_tasks: int = DEFAULT_TASKS) -> int:
    """Render processes for ``workers=auto`` (see the module docstring); logs the choice and why."""
    cores, limits = usable_cores()
    by_memory = max(1, (usable_memory() - RESERVE_BYTES) // WORKER_BYTES)
    n = min(cores, by_memory)
    small = n_cells is not None and n_cells * n_tasks < SMALL_CELLS * DEFAULT_TASKS
    if small:
        n = 1
    shown = ", ".join(f"{k} {v}" for k, v in limits.items() if v)
    log.info(
        "workers=auto: %d render process(es) (%d usable cores: %s; memory allows %d%s).",
        n,
        cores,
        shown,
        by_memory,
        f"; {n_cells:,} cells x {n_tasks} task(s), below {SMALL_CELLS:,} x {DEFAULT_TASKS}: one process"
        if small
        else "",
    )
    return n


def workers_for(cfg) -> int:
    """A prepare config's ``workers`` as a number (``auto``: ``auto_workers`` of the input's cell count, where its
    sources can say it cheaply)."""
    if cfg.workers != "auto":
        return int(cfg.workers)
    from c2s.io.sources import count_cells, source_parts

    counts = [count_cells(p) for d in [cfg.data, *cfg.extra_data] for p in source_parts(str(d.path))]
    return auto_workers(None if None in counts else sum(counts), max(1, len(cfg.tasks.names)))
