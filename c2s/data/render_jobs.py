"""Render jobs: one (corpus, split, task) each, rendered in token space batch by batch
and written by a JobWriter. A job's bytes depend only on the plan, never on which process or
machine runs it, so any worker count or part split gives the same shards."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c2s.atomic import atomic_dir, write_json_atomic
from c2s.config.tasks import TaskOptionsConfig
from c2s.corpus.corpus import Corpus
from c2s.data.assemble import TokenSpace
from c2s.data.shard_files import JobWriter
from c2s.tasks import build_tasks
from c2s.tasks.render import batches

log = logging.getLogger(__name__)
BACKEND = "tokenizer-backend.json"  # the plan's tokenizer as the tokenizers library serialises it


@dataclass(frozen=True)
class Job:
    corpus: int  # index into the plan's corpora
    split: str
    task: str
    cells: int  # cells of the split (a cost estimate for balancing parts)

    @property
    def stem(self) -> str:
        return f"{self.split}-{self.task}-{self.corpus:02d}"


def assign_parts(jobs: list[Job], num_parts: int) -> list[list[Job]]:
    """Largest first onto the least-loaded part (ties: lowest part): deterministic."""
    parts: list[list[Job]] = [[] for _ in range(num_parts)]
    load = [0] * num_parts
    for job in sorted(jobs, key=lambda j: (-j.cells, j.stem)):
        p = load.index(min(load))
        parts[p].append(job)
        load[p] += job.cells + 1
    return parts


_STATE: dict[str, Any] = {}


def _context(work: str) -> dict[str, Any]:
    """Per process: the plan's corpora and their token spaces, loaded once (memory-mapped)."""
    if _STATE.get("work") != work:
        from tokenizers import Tokenizer  # not transformers: its import (with torch) costs a worker ~2 s

        plan = json.loads((Path(work) / "plan.json").read_text())
        corpora = [Corpus.load(Path(work) / f"corpus-{i:02d}") for i in range(len(plan["corpora"]))]
        tok = Tokenizer.from_str((Path(work) / BACKEND).read_text())
        _STATE.clear()
        # one token space per corpus: corpora of different files have different gene columns
        spaces = [TokenSpace(tok, c.sentences.gene_names) for c in corpora]
        _STATE.update(work=work, plan=plan, corpora=corpora, spaces=spaces)
    return _STATE


def run_job(work: str, job: Job) -> str:
    """Render ``job`` into ``work/jobs/<stem>/`` (skipped if already done); returns its stem."""
    out = Path(work) / "jobs" / job.stem
    if (out / "files.json").is_file():
        return job.stem
    ctx = _context(work)
    plan, corpus, space = ctx["plan"], ctx["corpora"][job.corpus], ctx["spaces"][job.corpus]
    opt = plan["tasks"]
    task = build_tasks([job.task], TaskOptionsConfig(**opt["options"]), opt["match_keys"])[0]
    with atomic_dir(out) as tmp:
        writer = JobWriter(tmp, job.stem, job.split, job.task, plan["rows_per_shard"], plan["token_dtype"])
        token_path, first = True, True
        for batch in batches(corpus, task, job.split, plan["seed"]):
            table, ok = space.table(corpus, job.task, job.split, batch, check=first)
            if token_path and not ok:  # the probe (first batch), or a skeleton that is never exact (any batch)
                token_path = False
                log.warning(
                    "Task %s: concatenated token ids differ from tokenizing the text with this tokenizer; "
                    "falling back to text tokenization for this task (slower, same result).",
                    job.task,
                )
            if not token_path:
                table = space.retokenize(table)
            writer.add(table)
            first = False
        write_json_atomic(tmp / "files.json", {"files": writer.close(), "token_path": token_path})
    corpus.release()
    return job.stem
