"""The prepare step: AnnData -> cell store -> plan -> token-space render jobs -> prompt shards.

Steps (``step=``): ``plan`` converts every source into an on-disk cell store and writes the
corpus metadata, spatial neighbours and tokenizer into a work directory; ``render`` runs the
render jobs (``part``/``num_parts`` pick a share, ``workers`` processes run it); ``merge`` moves
the job files (and the tokenizer as transformers saves it: :func:`hf_tokenizer`) into
``<shards_root>/<data.name>-<hash>`` with the manifest. ``all`` runs the three. The same config reuses its
shards (checksums checked); a change to the config or to an input file's bytes writes a new directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import c2s
from c2s.atomic import atomic_dir, sweep_orphans, write_json_atomic, write_text_atomic
from c2s.config.prepare import PrepareConfig
from c2s.corpus.corpus import gene_usage
from c2s.corpus.splits import SPLITS
from c2s.data.checksums import sealed
from c2s.data.cores import workers_for
from c2s.data.input_hash import content_hashes, side_file_hashes
from c2s.data.processes import RenderWorkers, in_child
from c2s.data.render_jobs import BACKEND, Job, assign_parts, run_job
from c2s.data.shards import FORMAT_VERSION, ShardSet
from c2s.errors import C2SInputError
from c2s.io.sources import identities, source_parts
from c2s.locks import file_lock
from c2s.tasks import build_tasks
from c2s.tasks.formats import upper_case_genes
from c2s.tokenizer import import_hf

log = logging.getLogger(__name__)
TOKENIZER_ID = "tokenizer-id.txt"
HASHED = ("data", "extra_data", "tokenizer", "split", "tasks", "seed", "top_k", "rows_per_shard")


def hashed_settings(cfg: PrepareConfig) -> dict[str, Any]:
    """The settings that change the shards, as plain values (recorded in the manifest)."""
    plain = {k: getattr(cfg, k) for k in HASHED}
    return {
        k: asdict(v) if is_dataclass(v) else [asdict(x) for x in v] if k == "extra_data" else v
        for k, v in plain.items()
    }


def config_hash(cfg: PrepareConfig) -> str:
    """12 hex digits over the settings that change the shards and the bytes of every input file."""
    payload = {k: v for k, v in hashed_settings(cfg).items() if v is not None} | {"format_version": FORMAT_VERSION}
    if not payload.get("extra_data"):
        payload.pop("extra_data", None)
    parts = [p for d in [cfg.data, *cfg.extra_data] for p in source_parts(str(d.path))]
    payload["inputs"] = content_hashes(identities(parts), cfg.shards_root)
    if side := side_file_hashes([cfg.data, *cfg.extra_data], cfg.shards_root):
        payload["side_files"] = side
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def shard_dir(cfg: PrepareConfig) -> Path:
    return Path(cfg.shards_root) / f"{cfg.data.name}-{config_hash(cfg)}"


def work_dir(cfg: PrepareConfig) -> Path:
    return (out := shard_dir(cfg)).parent / f".work-{out.name}"


def plan(cfg: PrepareConfig) -> Path:
    """Step 1 (one process): stores, corpora, neighbours, tokenizer, job list -> work dir."""
    work = work_dir(cfg)
    if (work / "plan.json").is_file():
        return work
    tasks = build_tasks(cfg.tasks.names, cfg.tasks.options, cfg.tasks.match_keys)
    fresh = not work.exists()
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _plan(cfg, work, tasks)
    except C2SInputError:
        if fresh:  # bad input found while planning: leave nothing behind
            shutil.rmtree(work, ignore_errors=True)
        raise


def _plan(cfg: PrepareConfig, work: Path, tasks: list) -> Path:
    from c2s.corpus.build import build_corpus  # AnnData: only the plan needs it
    from c2s.corpus.plan_meta import add_task_meta
    from c2s.tokenizer import build_tokenizer

    split, opt = cfg.split, cfg.tasks.options
    corpora, jobs, skipped = [], [], {}
    for i, d in enumerate([cfg.data, *cfg.extra_data]):
        corpus = build_corpus(
            d,
            top_k=cfg.top_k,
            seed=cfg.seed,
            val_fraction=split.val_fraction,
            test_fraction=split.test_fraction,
            split_by=split.split_by,
            holdout=split.holdout,
            store_dir=work / f"store-{i:02d}",
            chunk_size=cfg.chunk_size,
            upper_case_genes=upper_case_genes(opt.prompt_format),
        )
        add_task_meta(corpus, d, tasks, opt.neighbours, split.val_fraction, split.test_fraction, cfg.seed)
        for task in tasks:
            reason = task.missing(corpus)
            if reason:
                skipped[f"{corpus.name}/{task.name}" if i else task.name] = reason
                log.warning("Skipping task %s: %s.", task.name, reason)
                continue
            jobs += [Job(i, s, task.name, int(corpus.cells(s).size)) for s in SPLITS]
        corpora.append(corpus)
    if not jobs:
        raise C2SInputError("No task could be rendered from this data; see the skipped reasons logged above.")
    tokenizer = build_tokenizer(cfg.tokenizer, cfg.seed, corpora, tasks)
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if backend is not tokenizer:  # kind=pretrained: a transformers tokenizer, saved as it came
        hf_tokenizer(work, tokenizer)
    (work / BACKEND).write_text(backend.to_str())
    for i, corpus in enumerate(corpora):
        shutil.rmtree(work / f"corpus-{i:02d}", ignore_errors=True)
        corpus.save(work / f"corpus-{i:02d}")
    names, counts = gene_usage(corpora)
    write_json_atomic(
        work / "plan.json",
        {
            "corpora": [c.name for c in corpora],
            "jobs": [j.__dict__ for j in jobs],
            "skipped_tasks": skipped,
            "seed": cfg.seed,
            "rows_per_shard": cfg.rows_per_shard,
            "tasks": asdict(cfg.tasks),
            "token_dtype": "uint16" if backend.get_vocab_size(with_added_tokens=True) < 65535 else "int32",
            "n_cells": sum(len(c.sentences) for c in corpora),
            "n_empty_dropped": sum(c.sentences.n_empty_dropped for c in corpora),
            "cells_per_split": {s: int(sum(c.cells(s).size for c in corpora)) for s in SPLITS},
            "genes": [g for g, n in zip(names, counts) if n > 0],
            "inverse_fits": {c.name: c.inverse_fit.__dict__ for c in corpora},
        },
    )
    return work


def render(cfg: PrepareConfig, part: int = 0, num_parts: int = 1, pool: RenderWorkers | None = None) -> None:
    """Step 2: run this part's jobs (already finished jobs are skipped: a re-run resumes), in
    this process or in ``pool``'s workers."""
    from tqdm.auto import tqdm

    work = work_dir(cfg)
    if not (work / "plan.json").is_file():
        raise C2SInputError(f"No plan in {work}: run step=plan first (or step=all).")
    jobs = [Job(**j) for j in json.loads((work / "plan.json").read_text())["jobs"]]
    mine = assign_parts(jobs, num_parts)[part]
    if pool is None:
        for job in tqdm(mine, desc="render jobs", unit="job"):
            run_job(str(work), job)
        return
    done = pool.imap_unordered(_run, [(str(work), j) for j in mine])  # largest first, one at a time
    hf_tokenizer(work)  # this process is idle while the workers render
    for _ in tqdm(done, total=len(mine), desc="render jobs", unit="job"):
        pass


def _run(args: tuple[str, Job]) -> str:
    return run_job(*args)


def hf_tokenizer(work: Path, tokenizer=None) -> str:
    """The plan's tokenizer as transformers saves it (``work/tokenizer``) and its id, made once
    (from ``tokenizer``, else by wrapping the plan's backend); returns the id. The plan leaves
    this to a later step: importing transformers cost its critical path 0.55 s."""
    if not (work / TOKENIZER_ID).is_file():
        from c2s.tokenizer import tokenizer_id, wrap

        if tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = wrap(Tokenizer.from_str((work / BACKEND).read_text()))
        with atomic_dir(work / "tokenizer", replace=False) as tmp:  # parts may race: the same bytes
            tokenizer.save_pretrained(str(tmp))
        write_text_atomic(work / TOKENIZER_ID, tokenizer_id(tokenizer))
    return (work / TOKENIZER_ID).read_text()


def merge(cfg: PrepareConfig) -> Path:
    """Step 3: every job's files -> the shard directory (atomic), manifest last."""
    out, work = shard_dir(cfg), work_dir(cfg)
    p = json.loads((work / "plan.json").read_text())
    jobs = [Job(**j) for j in p["jobs"]]
    missing = [j.stem for j in jobs if not (work / "jobs" / j.stem / "files.json").is_file()]
    if missing:
        raise C2SInputError(
            f"{len(missing)} render jobs are not finished (e.g. {missing[:3]}); run step=render for every part first."
        )
    tok_id = hf_tokenizer(work)
    with atomic_dir(out, replace=False) as tmp:  # another process finished first: keep theirs
        files, counts, fallback = {}, {s: {} for s in SPLITS}, []
        for j in sorted(jobs, key=lambda j: j.stem):
            info = json.loads((work / "jobs" / j.stem / "files.json").read_text())
            for name, f in info["files"].items():
                os.link(work / "jobs" / j.stem / name, tmp / name)
                files[name] = f
            counts[j.split][j.task] = counts[j.split].get(j.task, 0) + sum(
                f["rows"] for n, f in info["files"].items() if n.endswith(".parquet")
            )
            if not info["token_path"]:
                fallback.append(j.stem)
        shutil.copytree(work / "tokenizer", tmp / "tokenizer")
        first = p["corpora"][0]
        for name, obj in (
            ("inverse_fit.json", p["inverse_fits"][first]),
            ("genes.json", p["genes"]),
            ("inverse_fits.json", p["inverse_fits"]),
        ):
            (tmp / name).write_text(json.dumps(obj, indent=2, sort_keys=True))
        skipped = dict(p["skipped_tasks"])
        for task in sorted({j.task for j in jobs}):  # asked for, not skipped, yet no example: say so
            if not any(counts[s].get(task) for s in SPLITS):
                skipped[task] = "rendered no examples (its inputs matched nothing; see the warnings above)"
                log.warning("Task %s rendered no examples: listed in the manifest's skipped_tasks.", task)
        manifest = {
            "c2s_version": c2s.__version__,
            "config_hash": out.name.rsplit("-", 1)[1],
            "config": hashed_settings(cfg) | {"shards_root": cfg.shards_root},
            "seed": cfg.seed,
            "tokenizer_id": tok_id,
            "skipped_tasks": skipped,
            "n_cells": p["n_cells"],
            "n_empty_dropped": p["n_empty_dropped"],
            "cells_per_split": p["cells_per_split"],
            "datasets": p["corpora"],
            "token_dtype": p["token_dtype"],
            "text_tokenized_jobs": fallback,
            "counts": {s: dict(sorted(c.items())) for s, c in counts.items()},
            "files": files,
        }
        write_json_atomic(tmp / "manifest.json", sealed(dict(manifest, format_version=FORMAT_VERSION)))
    shutil.rmtree(work, ignore_errors=True)
    n = sum(sum(c.values()) for c in counts.values())
    log.info("Wrote %d examples in %s (%s)", n, out, ", ".join(f"{s}: {sum(c.values())}" for s, c in counts.items()))
    return out


def prepare(cfg: PrepareConfig, workers: int | None = None, pool: RenderWorkers | None = None) -> Path:
    """Write (or reuse) the shard directory for ``cfg`` (a validated PrepareConfig, or a TrainConfig); one writer
    at a time: another waits, then reuses it (render parts of a split job run side by side, as planned).
    ``workers``: ``cfg.workers`` resolved (:func:`workers_for`); ``pool``: render workers already started
    (:func:`c2s.data.processes.early_workers`), ended here whatever happens."""
    try:
        out = shard_dir(cfg)
        if cfg.step == "render":
            return _prepare(cfg, out, workers, pool)
        with file_lock(Path(cfg.shards_root) / f".{out.name}.lock", out, "shards_root", wait=True, remove=True):
            return _prepare(cfg, out, workers, pool)
    finally:
        if pool is not None:
            pool.terminate()


def _prepare(cfg: PrepareConfig, out: Path, workers: int | None, pool: RenderWorkers | None) -> Path:
    sweep_orphans(cfg.shards_root)  # temporaries of runs killed mid-write
    if (out / "manifest.json").exists():
        ShardSet(out)  # checksums verified; raises naming a corrupt file
        log.info("Reusing prepared shards in %s", out)
        return out
    step, part, num_parts = cfg.step, cfg.part, cfg.num_parts
    workers = pool.size if pool is not None else workers or workers_for(cfg)
    if workers > 1 and step in ("all", "render"):  # started before the plan: no thread here yet, so it can fork
        pool = pool or RenderWorkers(workers)
    t = time.perf_counter()
    try:
        if step in ("all", "plan"):
            # with workers, a process of its own (the plan's memory is gone before rendering), importing
            # transformers here meanwhile (for hf_tokenizer)
            in_child(plan, cfg, meanwhile=import_hf) if pool is not None else plan(cfg)
            t = _timed("plan", t)
        if step in ("all", "render"):
            render(cfg, part, num_parts, pool)
            t = _timed(f"render (part {part} of {num_parts}, {workers} workers)", t)
    finally:
        if pool is not None:
            pool.terminate()
    if step in ("all", "merge"):
        out = merge(cfg)
        _timed("merge", t)
        return out
    return work_dir(cfg)


def _timed(step: str, since: float) -> float:
    now = time.perf_counter()
    log.info("prepare step %s: %.1f s", step, now - since)
    return now
