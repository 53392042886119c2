"""Benchmark: the prepare step at atlas scale, the training stream on its output, and the
cell2sentence 1.2.0 pipeline on the same cells.

    python benchmarks/prepare_scale.py --cells 100k [--workers 2] [--no-baseline]
    python benchmarks/prepare_scale.py --cells 1M --source soma   # the same cells as h5ad and as a SOMA experiment

``--workers`` (prepare processes) defaults to 2, the cores of the reference machine.

Input: a streamed synthetic .h5ad (every metadata role, spatial coordinates, 2,000 genes),
cached in outputs/bench/. Measured, in this order:
1. conversion only (AnnData -> on-disk cell store) of the file, in this process (warm imports)
   and as a fresh process (interpreter and imports included, as step 2 is measured);
2. end to end: ``python -m c2s.cli.prepare`` with every default task, in a child process
   (wall time, peak RSS summed over its process tree, output size);
3. the DataModule on those shards with 0 and 2 loader workers (tokens/s, peak RSS, and the
   RSS of its imports alone: torch + lightning, before any data);
4. cell2sentence 1.2.0: CSData.adata_to_arrow, C2SPromptFormatter(cell_type_prediction),
   HF tokenization, vs ours with only the cell-type task, same cells. Ratio printed last.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
from _measure import PEAKS, cells, dir_size, run_measured, synthetic_h5ad  # noqa: E402  (the benchmarks' own helpers)

CONVERT = """
import sys
from pathlib import Path
from c2s.corpus.cell_store import convert
from c2s.io.anndata_io import ExpressionSource
convert([ExpressionSource(sys.argv[1], backed=True)], 100, Path(sys.argv[2]), chunk_size=4096, progress=False)
"""

STREAM = """
import json, sys, time, psutil, torch
from c2s.data.datamodule import C2SDataModule
step_s = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0  # compute per batch, standing in for a training step
a = torch.randn(256, 256)
def step():
    t = time.perf_counter()
    while time.perf_counter() - t < step_s:
        a @ a
floor = psutil.Process().memory_info().rss  # torch + lightning imported, no data yet
dm = C2SDataModule(shards_dir=sys.argv[1], max_seq_len=1024, batch_size=8, num_workers=int(sys.argv[2]), seed=0)
t0 = time.perf_counter(); dm.setup(); loader = dm.train_dataloader(); n_ex = len(dm.index("train"))
tokens = int(dm.index("train").lengths.sum()); setup = time.perf_counter() - t0
t0, seen, batches = time.perf_counter(), 0, 0
for b in loader:
    seen += int(b["attention_mask"].sum()); batches += 1
    step()
    if time.perf_counter() - t0 > float(sys.argv[3]): break
dt = time.perf_counter() - t0
print(json.dumps({"examples": n_ex, "tokens": tokens, "setup_s": setup, "tok_s": seen / dt, "batches": batches,
                  "import_rss": floor, "batches_s": batches / dt}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", default="100k")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--stream-seconds", type=float, default=20.0)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the shards (outputs/bench/shards)")
    ap.add_argument("--smoke", action="store_true", help="2,000 cells, 1 s streams (CI: the code paths)")
    ap.add_argument("--source", choices=["h5ad", "soma"], default="h5ad", help="soma: h5ad vs a SOMA experiment")
    args = ap.parse_args()
    if args.smoke:
        args.cells, args.stream_seconds = "2k", 0.5
    n = cells(args.cells)
    data = synthetic_h5ad(n)
    print(
        f"{n:,} cells x 2,000 genes, {data.stat().st_size / 1e9:.2f} GB; "
        f"{psutil.cpu_count()} cores; workers={args.workers}"
    )
    if args.source == "soma":
        return soma_vs_h5ad(data, n, args.workers)
    from c2s.corpus.cell_store import convert
    from c2s.io.anndata_io import ExpressionSource

    with tempfile.TemporaryDirectory() as tmp:
        # untimed: a 400-cell prepare compiles and caches every numba kernel (a clean clone's first
        # run paid ~8 s of compiling in whichever step came first)
        if not args.smoke:  # smoke: the code paths, not the figures
            run_measured(
                [
                    sys.executable,
                    "-m",
                    "c2s.cli.prepare",
                    "data=synthetic",
                    f"shards_root={tmp}/warm",
                    f"hydra.run.dir={tmp}/hydra",
                    f"workers={args.workers}",
                ]
            )
        # the conversion measured as prepare is: a fresh interpreter, its imports included
        cold, _, _ = run_measured([sys.executable, "-c", CONVERT, str(data), str(Path(tmp) / "store2")])
        t = time.perf_counter()
        convert([ExpressionSource(str(data), backed=True)], 100, Path(tmp) / "store", chunk_size=4096, progress=False)
        conv = time.perf_counter() - t
    print(
        f"conversion only:     {conv:7.1f} s  {n / conv:9,.0f} cells/s in this process; {cold:.1f} s as a fresh process"
    )

    root = Path(tempfile.mkdtemp(prefix="c2s-bench-"))
    common = [
        f"data.path={data}",
        "data.backed=true",
        "data.name=bench",
        f"shards_root={root}",
        f"hydra.run.dir={root}/hydra",
        f"workers={args.workers}",
    ]
    wall, peak, out = run_measured([sys.executable, "-m", "c2s.cli.prepare", "data=synthetic", *common])
    shards = Path(out.strip().splitlines()[-1])
    m = json.loads((shards / "manifest.json").read_text())
    n_ex = sum(sum(c.values()) for c in m["counts"].values())
    print(
        f"prepare, all tasks:  {wall:7.1f} s  {n / wall:9,.0f} cells/s  peak RSS {peak / 1e6:6.0f} MB  "
        f"{n_ex:,} examples  {sum(f['tokens'] for k, f in m['files'].items() if k.endswith('.parquet')):,} tokens  "
        f"{dir_size(shards) / 1e9:.2f} GB  ({wall / conv:.1f}x conversion in-process, "
        f"{wall / cold:.1f}x as a fresh process)"
    )
    for w in (0, 2):
        _, rss, out = run_measured(
            [sys.executable, "-c", STREAM, str(shards), str(w), str(args.stream_seconds)], detail=True
        )
        s = json.loads(out.strip().splitlines()[-1])
        print(
            f"DataModule workers={w}: {s['tokens'] / 1e6:.0f}M tokens, setup {s['setup_s']:.1f} s, "
            f"{s['tok_s']:,.0f} tok/s, peak RSS {rss / 1e6:.0f} MB (process tree), "
            f"largest process {PEAKS.get('process_rss', 0) / 1e6:.0f} MB, "
            f"tree PSS {PEAKS.get('tree_pss', 0) / 1e6:.0f} MB; imports alone {s['import_rss'] / 1e6:.0f} MB, "
            f"so data {(PEAKS.get('process_rss', 0) - s['import_rss']) / 1e6:.0f} MB in the largest process"
        )
    # with a training step per batch (matmuls for a fixed time on this process's threads): can prefetching show?
    seconds = args.stream_seconds if args.smoke else max(args.stream_seconds, 3.0)
    for step_ms in (20,) if args.smoke else (20, 100):
        rates = {}
        for w in (0, 2):
            cmd = [sys.executable, "-c", STREAM, str(shards), str(w), str(seconds), str(step_ms / 1e3)]
            rates[w] = json.loads(run_measured(cmd)[2].strip().splitlines()[-1])["batches_s"]
        print(
            f"DataModule with a {step_ms} ms step per batch: {rates[0]:.1f} batches/s with 0 workers, "
            f"{rates[2]:.1f} with 2 ({rates[2] / rates[0]:.2f}x; ideal {1e3 / step_ms:.1f})"
        )
    if not args.no_baseline:
        baseline(data, root, common, n)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


def soma_vs_h5ad(data: Path, n: int, workers: int) -> None:
    """Prepare (every default task) from the h5ad and from the same cells written as a local SOMA experiment
    (tiledbsoma.io.from_h5ad, cached beside it), side by side; the speed ratio last."""
    import tiledbsoma.io

    exp = data.with_suffix(".soma")
    if not exp.exists():
        t = time.perf_counter()
        tmp = data.with_suffix(".soma.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tiledbsoma.io.from_h5ad(str(tmp), str(data), measurement_name="RNA", X_layer_name="raw")
        os.replace(tmp, exp)
        print(f"wrote the SOMA experiment {exp} in {time.perf_counter() - t:.0f} s")
    rows = {}
    for source, spec in (
        ("h5ad", ["data=synthetic", f"data.path={data}"]),
        (
            "soma",
            [
                "data=soma",
                f"data.uri={exp}",
                "data.gene_key=null",
                "data.cell_type_key=cell_type",
                "data.tissue_key=tissue",
                "data.donor_key=donor",
                "data.batch_key=batch",
                "data.condition_key=condition",
                "data.control_value=control",
                "data.cluster_key=cluster",
                "data.caption_key=caption",
            ],
        ),
    ):
        root = Path(tempfile.mkdtemp(prefix="c2s-bench-"))
        args = [*spec, "data.name=bench", f"shards_root={root}", f"hydra.run.dir={root}/hydra", f"workers={workers}"]
        wall, peak, out = run_measured([sys.executable, "-m", "c2s.cli.prepare", *args])
        shards = Path(out.strip().splitlines()[-1])
        m = json.loads((shards / "manifest.json").read_text())
        rows[source] = wall
        print(
            f"prepare from {source:4s}: {wall:7.1f} s  {n / wall:9,.0f} cells/s  peak RSS {peak / 1e6:6.0f} MB  "
            f"{sum(sum(c.values()) for c in m['counts'].values()):,} examples  {dir_size(shards) / 1e9:.2f} GB"
        )
        shutil.rmtree(root, ignore_errors=True)
    print(f"speed ratio SOMA / h5ad (cells/s) on {n:,} cells: {rows['h5ad'] / rows['soma']:.2f}x")


def baseline(data: Path, root: Path, common: list[str], n: int) -> None:
    os.environ["TQDM_DISABLE"] = "1"  # before cell2sentence imports tqdm
    try:
        from cell2sentence import CSData
        from cell2sentence.prompt_formatter import C2SPromptFormatter
    except ImportError:
        print("speed ratio c2s / cell2sentence: cell2sentence not installed (make bench installs it), baseline skipped")
        return
    import anndata as ad
    from transformers import AutoTokenizer

    args = [a for a in common if not a.startswith("workers=")]  # the default, workers=auto, as a user runs it
    ours, _, out = run_measured(
        [sys.executable, "-m", "c2s.cli.prepare", "data=synthetic", *args, "tasks.names=[cell_type_annotation]"]
    )
    tok = AutoTokenizer.from_pretrained(str(Path(out.strip().splitlines()[-1]) / "tokenizer"))
    t = time.perf_counter()
    adata = ad.read_h5ad(data)
    adata.obs["organism"] = "human"
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bar (tqdm was imported before TQDM_DISABLE)
        arrow, _ = CSData.adata_to_arrow(adata, random_state=42, label_col_names=["cell_type", "organism"])
    ds = C2SPromptFormatter("cell_type_prediction", top_k_genes=100).format_hf_ds(arrow)
    tok(list(ds["model_input"]), add_special_tokens=False)
    tok(list(ds["response"]), add_special_tokens=False)
    base = time.perf_counter() - t
    print(
        f"cell2sentence 1.2.0 (arrow + cell-type prompts + HF tokenization): {base:.1f} s; "
        f"c2s prepare (cell-type task, from the h5ad, workers=auto): {ours:.1f} s"
    )
    print(f"speed ratio c2s / cell2sentence on {n:,} cells: {base / ours:.1f}x")


if __name__ == "__main__":
    main()
