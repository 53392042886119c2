"""Benchmark: c2s cell sentences vs the official cell2sentence 1.2.0 on one synthetic matrix.

    make bench            # installs the `bench` extra (cell2sentence) and runs this

Input: seeded 20,000 cells × 20,000 genes, 8% non-zero, geometric counts ->
normalize_total(1e4) -> log1p, written once as h5ad under benchmarks/.cache/.
Timed, in one process on that input:
  c2s backed      cell_sentence_indices(path, backed=True): streams CSR chunks from disk
  c2s in-memory   cell_sentence_indices(adata) on the loaded matrix (+ rendering text)
  cell2sentence   CSData.adata_to_arrow(adata) (its per-cell Python loop)
Peak RSS per phase is sampled by a background thread. The last line is the speed ratio.
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # before tqdm is imported: cell2sentence's per-cell bar floods the log

import argparse
import gc
import resource
import threading
import time
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import psutil
import scipy.sparse as sp

from c2s.atomic import atomic_path
from c2s.sentences import cell_sentence_indices

warnings.filterwarnings("ignore", category=FutureWarning)
CACHE = Path(__file__).parent / ".cache"


def make_matrix(n_cells: int, n_genes: int, density: float, seed: int) -> Path:
    """Write (once) the seeded log-normalised benchmark matrix; return its path."""
    path = CACHE / f"synthetic_{n_cells}x{n_genes}_{density}_{seed}.h5ad"
    if path.exists():
        return path
    import scanpy as sc

    rng = np.random.default_rng(seed)
    blocks = []
    for start in range(0, n_cells, 1000):
        rows = min(1000, n_cells - start)
        mask = rng.random((rows, n_genes), dtype=np.float32) < density
        counts = np.zeros((rows, n_genes), dtype=np.float32)
        counts[mask] = rng.geometric(0.5, size=int(mask.sum()))
        blocks.append(sp.csr_matrix(counts))
    adata = ad.AnnData(sp.vstack(blocks, format="csr"))
    adata.obs_names = [f"cell{i}" for i in range(n_cells)]
    adata.var_names = [f"GENE{j}" for j in range(n_genes)]
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    with atomic_path(path, suffix=".h5ad") as tmp:
        adata.write_h5ad(tmp)
    return path


class PeakRSS:
    """Context manager sampling this process's RSS every 2 ms; ``.peak`` and ``.start`` in bytes."""

    def __enter__(self):
        self._proc = psutil.Process()
        gc.collect()
        self.start = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def timed(label: str, fn, n_cells: int, matrix_bytes: int) -> float:
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        fn()
        seconds = time.perf_counter() - t0
    print(
        f"{label:<34} {seconds:8.2f} s {n_cells / seconds:>10,.0f} cells/s   "
        f"peak RSS {mem.peak / 2**20:7.0f} MiB ({mem.peak / matrix_bytes:.2f}x matrix; "
        f"+{(mem.peak - mem.start) / 2**20:.0f} MiB over start)"
    )
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", type=int, default=20_000)
    p.add_argument("--genes", type=int, default=20_000)
    p.add_argument("--density", type=float, default=0.08)
    p.add_argument("--top-k", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-baseline", action="store_true", help="time c2s only")
    p.add_argument("--smoke", action="store_true", help="2,000 × 1,000 (CI: the code paths, not the figures)")
    args = p.parse_args()
    if args.smoke:
        args.cells, args.genes = 2_000, 1_000
    if not args.skip_baseline:
        try:
            import cell2sentence  # noqa: F401
        except ImportError:
            print("cell2sentence not installed (make bench installs it): baseline skipped")
            args.skip_baseline = True

    path = make_matrix(args.cells, args.genes, args.density, args.seed)
    # warm the compiled kernel (numba cache) on a tiny input so compile time is not timed
    warm = ad.AnnData(sp.random(10, 50, density=0.5, format="csr", dtype=np.float32, random_state=0))
    warm.var_names = [f"GENE{j}" for j in range(50)]  # gene symbols: a numeric index is refused as a gene list
    cell_sentence_indices(warm, top_k=5)

    import h5py

    with h5py.File(path, "r") as f:
        nnz = f["X/data"].shape[0]
    matrix_bytes = nnz * (4 + 4) + (args.cells + 1) * 8  # float32 data + int32 indices + indptr
    print(
        f"input: {args.cells:,} cells × {args.genes:,} genes, {nnz:,} non-zeros "
        f"({nnz / args.cells / args.genes:.1%}); in-memory CSR {matrix_bytes / 2**20:.0f} MiB; "
        f"top_k={args.top_k}; {psutil.cpu_count()} cores"
    )

    n = args.cells
    timed(
        f"c2s backed (top {args.top_k})",
        lambda: cell_sentence_indices(path, top_k=args.top_k, backed=True),
        n,
        matrix_bytes,
    )
    adata = ad.read_h5ad(path)
    ours = timed(
        f"c2s in-memory (top {args.top_k})", lambda: cell_sentence_indices(adata, top_k=args.top_k), n, matrix_bytes
    )
    timed(
        f"c2s in-memory (top {args.top_k}) + text",
        lambda: cell_sentence_indices(adata, top_k=args.top_k).render(),
        n,
        matrix_bytes,
    )
    if not args.skip_baseline:
        from cell2sentence import CSData  # full sentences as strings, like our top_k=None

        base = timed(
            "cell2sentence 1.2.0 adata_to_arrow", lambda: CSData.adata_to_arrow(adata, random_state=42), n, matrix_bytes
        )
    # every expressed gene: the padded int32 output is n_cells × n_genes × 4 bytes (1.6 GB here)
    timed("c2s in-memory (all genes)", lambda: cell_sentence_indices(adata, top_k=None), n, matrix_bytes)
    print(f"max RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")
    if not args.skip_baseline:
        print(f"speed ratio c2s in-memory (top {args.top_k}) / cell2sentence: {base / ours:.1f}x")
    else:
        print("speed ratio c2s / cell2sentence: baseline skipped")


if __name__ == "__main__":
    main()
