"""One evaluation job: load a checkpoint or export, score it on a source, write the report (evaluate.py, and
train.py's ``evaluate`` after a sweep job)."""

from __future__ import annotations

from pathlib import Path

from c2s.config.evaluate import EvaluateConfig


def output_dir(c: EvaluateConfig) -> Path:
    """``out_dir``, else beside the checkpoint (shards), or under outputs/eval (zero-shot: not the model's dir)."""
    ckpt = Path(c.ckpt)
    if c.out_dir:
        return Path(c.out_dir)
    if c.data is not None:
        return Path("outputs/eval") / f"{ckpt.stem if ckpt.is_file() else ckpt.name}-{c.data.name}"
    return (ckpt.parent if ckpt.is_file() else ckpt).parent / "eval"


def evaluate(c: EvaluateConfig) -> tuple[dict, Path, str]:
    """(report, the directory written: report.json/.md, predictions.jsonl, plots; the Markdown)."""
    from c2s.eval.load import load_for_eval, to_device
    from c2s.eval.report import write_report
    from c2s.eval.runner import Evaluator
    from c2s.eval.sources import H5adSource, ShardSource

    zero_shot = c.data is not None
    ckpt = Path(c.ckpt)
    model, tokenizer, shards = load_for_eval(
        ckpt, c.shards, init_from=c.init_from, trust_remote_code=c.trust_remote_code, zero_shot=zero_shot
    )
    source = H5adSource(c, tokenizer) if zero_shot else ShardSource(shards)
    model = to_device(model, c.device)
    out = output_dir(c)
    out.mkdir(parents=True, exist_ok=True)
    report = Evaluator(model, tokenizer, source, c).run(out)
    report["ckpt"] = str(ckpt)
    title = f"Evaluation of `{ckpt}`" + (
        f" (zero-shot on `{c.data.path}`, prompt format `{c.prompt_format}`)" if zero_shot else ""
    )
    text = write_report(report, out, title)
    return report, out, text
