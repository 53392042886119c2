"""Benchmark: the prepare step with 1 render process, 2, and ``workers=auto`` (the default) on the same cells,
and whether their shards are byte-identical.

    python benchmarks/prepare_workers.py --cells 200k
    python benchmarks/prepare_workers.py --cells 100k,200k,1M   # one table

Input: the synthetic .h5ad of prepare_scale.py (every metadata role, 2,000 genes; cached in outputs/bench/).
Each run is ``python -m c2s.cli.prepare data=synthetic`` with every default task, in a child process (wall
time and peak RSS summed over its process tree). The shards' digest is the SHA-256 over the manifest's
per-file SHA-256s, so equal digests mean identical bytes. ``auto``'s choice is read from its log line.
The speed ratio auto / 1 process is printed last.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
from _measure import cells, run_measured, synthetic_h5ad  # noqa: E402  (the benchmarks' own helpers)


def digest(shards: Path) -> str:
    files = json.loads((shards / "manifest.json").read_text())["files"]
    return hashlib.sha256("".join(f"{k}:{v['sha256']}\n" for k, v in sorted(files.items())).encode()).hexdigest()


def run(data: Path, workers: str) -> dict:
    root = Path(tempfile.mkdtemp(prefix="c2s-bench-"))
    args = [f"data.path={data}", "data.backed=true", "data.name=bench", f"shards_root={root}"]
    args += [f"hydra.run.dir={root}/hydra", f"workers={workers}"]
    try:
        wall, peak, out = run_measured([sys.executable, "-m", "c2s.cli.prepare", "data=synthetic", *args])
        log = (root / "hydra" / "prepare.log").read_text() if (root / "hydra" / "prepare.log").exists() else ""
        chosen = re.search(r"workers=auto: (\d+) render process", log)
        return {
            "wall": wall,
            "peak": peak,
            "digest": digest(Path(out.strip().splitlines()[-1])),
            "chosen": chosen.group(1) if chosen else workers,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", default="200k", help="one size, or several separated by commas")
    ap.add_argument("--smoke", action="store_true", help="2,000 cells (CI: the code paths)")
    args = ap.parse_args()
    sizes = [cells("2k")] if args.smoke else [cells(c) for c in args.cells.split(",")]
    print(f"{os.cpu_count()} cores; affinity {len(os.sched_getaffinity(0))}")
    print("| cells | workers | prepare | cells/s | peak RSS (tree) | shards digest |")
    print("|---:|---|---:|---:|---:|---|")
    ratio = 0.0
    for n in sizes:
        data = synthetic_h5ad(n)
        rows = {w: run(data, w) for w in ("1", "2", "auto")}
        for w, r in rows.items():
            label = f"auto ({r['chosen']})" if w == "auto" else w
            print(
                f"| {n:,} | {label} | {r['wall']:.1f} s | {n / r['wall']:,.0f} | {r['peak'] / 1e6:,.0f} MB "
                f"| {r['digest'][:16]} |"
            )
        same = len({r["digest"] for r in rows.values()}) == 1
        print(f"{n:,} cells: shards {'identical' if same else 'DIFFER'} for workers 1, 2 and auto")
        if not same:
            sys.exit("the shards depend on the worker count")
        ratio = rows["1"]["wall"] / rows["auto"]["wall"]
    print(f"speed ratio auto / 1 process on {sizes[-1]:,} cells: {ratio:.2f}x")


if __name__ == "__main__":
    main()
