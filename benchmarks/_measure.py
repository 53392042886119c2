"""Helpers of the benchmarks (not a benchmark): parse a cell count, the cached synthetic input, run a child command
while sampling the peak RSS of its process tree (and, if asked, every 0.5 s the largest process's RSS and the
tree's PSS), size a directory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def cells(text: str) -> int:
    t = text.lower()
    return int(float(t[:-1]) * (1_000 if t.endswith("k") else 1_000_000)) if t[-1] in "km" else int(t)


def synthetic_h5ad(n: int) -> Path:
    """The seeded synthetic .h5ad of ``n`` cells (every metadata role, 2,000 genes), written once to outputs/bench/."""
    data = ROOT / "outputs" / "bench" / f"synthetic-{n}.h5ad"
    if not data.exists():
        from c2s.io.synthetic import write_synthetic

        data.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        write_synthetic(data.with_suffix(".tmp"), n, seed=0)
        os.replace(data.with_suffix(".tmp"), data)
        print(f"made {data} in {time.perf_counter() - t:.0f} s")
    return data


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


PEAKS: dict[str, int] = {}  # of the last run_measured: largest single-process RSS, largest tree PSS


def _sample_detail(proc: psutil.Process) -> None:
    """RSS counts pages shared with forked loader workers in every process; PSS splits them."""
    rss, pss = 0, 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            info = p.memory_full_info()
            rss, pss = max(rss, info.rss), pss + info.pss
        except psutil.Error:
            pass
    PEAKS["process_rss"] = max(PEAKS.get("process_rss", 0), rss)
    PEAKS["tree_pss"] = max(PEAKS.get("tree_pss", 0), pss)


def run_measured(cmd: list[str], env: dict | None = None, detail: bool = False) -> tuple[float, int, str]:
    """(wall seconds, peak RSS of the process tree in bytes, stdout) of a child command; with ``detail``, PEAKS
    too (smaps reads take CPU from the child on a small machine: 0.4-1 s of a 43 s prepare on 2 cores)."""
    start = time.perf_counter()
    p = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, **(env or {})}
    )
    peak, proc, tick = 0, psutil.Process(p.pid), 0
    PEAKS.clear()
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(p.stdout.read()))
    reader.start()
    while p.poll() is None:
        peak = max(peak, tree_rss(proc))
        if detail and tick % 10 == 0:  # smaps reads are slow: every 0.5 s
            _sample_detail(proc)
        tick += 1
        time.sleep(0.05)
    reader.join()
    err = p.stderr.read()
    if p.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return time.perf_counter() - start, peak, out[0]


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
