"""GPU generation throughput of evaluate.py's ``generate`` and GRPO's ``sample``: dynamic vs static
KV cache and batch sizes (``generate`` with the gene-list no-repeat rule on).

    python benchmarks/gpu_generate.py --shards outputs/gpu/shards/<dir> [--model pythia-410m] [--json out.json]

The model is built from configs/model/<model>.yaml with random weights (the tokenizer's vocabulary, so every id
decodes), in
bfloat16 with SDPA. Prompts are the test split's conditional_cell_generation prompts; each run
generates ``--new`` tokens per prompt. Tokens/s counts generated tokens (re-encoding the decoded
text for ``generate``; exact from the completion mask for ``sample``). First-call time (which
includes any compilation) and the median of the next calls are reported separately. The last line
is the ratio of the fastest setting to the dynamic-cache default at the default batch size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from gpu_train import DEVICE, load_data, model_config, sync


def timed(fn, repeats: int) -> tuple[float, float, object]:
    sync()
    t = time.perf_counter()
    out = fn()
    sync()
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t)
    return first, statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", required=True)
    ap.add_argument("--model", default="pythia-410m")
    ap.add_argument("--task", default="conditional_cell_generation")
    ap.add_argument("--new", type=int, default=100, help="tokens generated per prompt")
    ap.add_argument("--prompts", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-sizes", type=lambda t: [int(x) for x in t.split(",")], default=[16, 64, 128])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from c2s.config.model import ModelConfig
    from c2s.data.shards import ShardSet
    from c2s.data.stream import TokenIndex
    from c2s.eval.generate import generate
    from c2s.models.build import build_model
    from c2s.rl.rollout import sample

    tok, tasks, _ = load_data(args.shards)
    index = TokenIndex.from_shards(ShardSet(args.shards, verify=False), "test", tasks)
    rows = np.flatnonzero(index.task_ids == tasks.index(args.task))[: args.prompts]
    prompts = [index.tokens(int(r))[0].tolist() for r in rows]
    m = model_config(args.model, "tokenizer", {"sdpa"})  # every generated id decodes to a token
    torch.manual_seed(0)
    model = build_model(ModelConfig(**m), tok, device_type=DEVICE, packed=False).to(DEVICE, torch.bfloat16).eval()
    model.config.use_cache = True
    n_tok = lambda texts: sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)  # noqa: E731
    results = []

    def record(kind, bs, cache, rule, first, median, tokens):
        r = {
            "kind": kind,
            "batch_size": bs,
            "cache": cache,
            "no_repeat": rule,
            "first_s": round(first, 2),
            "median_s": round(median, 3),
            "tokens": tokens,
            "tokens_per_s": round(tokens / median),
        }
        print(json.dumps(r), flush=True)
        results.append(r)
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    {
                        "device": torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu",
                        "torch": torch.__version__,
                        "model": args.model,
                        "results": results,
                    },
                    indent=1,
                )
            )

    for cache in ("dynamic", "static"):
        for bs in args.batch_sizes:
            first, med, texts = timed(
                lambda: generate(
                    model, tok, prompts, args.new, batch_size=bs, cache=cache, no_repeat_tokens=True, desc="bench"
                ),
                args.repeats,
            )
            record("evaluate.generate", bs, cache, "on", first, med, n_tok(texts))
    group = 8
    for cache in ("dynamic", "static"):
        p = prompts[:16]
        first, med, roll = timed(
            lambda: sample(model, tok, p, group, args.new, temperature=1.0, device=DEVICE, cache=cache), args.repeats
        )
        record("grpo.sample", len(p) * group, cache, "none", first, med, int(roll.completion_mask.sum()))
    base = results[0]  # the default: dynamic cache, the first batch size
    best = max((r for r in results if r["kind"] == "evaluate.generate"), key=lambda r: r["tokens_per_s"])
    print(
        f"\nevaluate.generate: best {best['cache']} cache at batch {best['batch_size']}: "
        f"{best['tokens_per_s']:,} tok/s, "
        f"{best['tokens_per_s'] / base['tokens_per_s']:.2f}x dynamic cache at batch {base['batch_size']}"
    )


if __name__ == "__main__":
    main()
