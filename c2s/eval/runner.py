"""Evaluate a model on a test split, next to baselines, with 95% CIs. The examples come from
a source (c2s.eval.sources): the prompt shards the model was trained on, or an h5ad rendered
on the fly (zero-shot).

Per task, by the task's metric:
- accuracy: accuracy + macro-F1 of normalised labels; baselines majority and (for single-cell
  annotation) kNN on PCA of expression rebuilt from the prompt's cell sentence.
- overlap: overlap % of generated vs reference genes; for single-cell generation also scFID,
  MMD and Wasserstein between generated and real cells (both rebuilt to expression with the
  inverse fit, embedded by PCA fitted on real training cells); baselines same-label training
  cells and a marginal gene-frequency sampler. Generated cells are decoded greedily and, with
  ``generation.also_sample``, sampled too (``model_sampled``): greedy cells collapse onto few modes.
- bertscore: BERTScore F1; baseline the most common training answer.
- kendall_tau (perturbation response): gene-program agreement, see c2s.eval.perturbation;
  baselines identity and mean shift.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from c2s.atomic import write_text_atomic
from c2s.config.evaluate import EvaluateConfig
from c2s.errors import C2SInputError
from c2s.eval import baselines as B
from c2s.eval.coverage import gene_coverage
from c2s.eval.embeddings import embed_cells, knn_probe, plot_confusion, plot_umap
from c2s.eval.generate import generate
from c2s.eval.metrics import (
    accuracy,
    bootstrap_ci,
    bootstrap_paired,
    ci,
    frechet_distance,
    macro_f1,
    mmd_rbf,
    overlap_pct,
    wasserstein,
)
from c2s.eval.perturbation import score_perturbation
from c2s.eval.report import prediction_records
from c2s.scoring.bertscore import bertscore_f1
from c2s.scoring.metric import ACCURACY, BERTSCORE, KENDALL_TAU, OVERLAP
from c2s.scoring.parse import normalize_label, parse_genes
from c2s.sentences import reconstruct
from c2s.tasks import REGISTRY

log = logging.getLogger(__name__)


def _needs(task: str):
    """What evaluation needs for ``task`` (its class's ``EvalSpec``)."""
    return REGISTRY[task].evaluation


def _ci(scores: np.ndarray, n: int, seed: int) -> dict[str, float]:
    return ci(bootstrap_ci(scores, n=n, seed=seed))


def _label_metrics(pred: list[str], true: list[str], n: int, seed: int) -> dict:
    f1 = bootstrap_paired(macro_f1, pred, true, n=n, seed=seed, bounds=(0.0, 1.0))
    return {"accuracy": _ci(accuracy(pred, true), n, seed), "macro_f1": ci(f1)}


class Evaluator:
    """``source``: a c2s.eval.sources ShardSource (prepared shards) or H5adSource (zero-shot)."""

    def __init__(self, model, tokenizer, source, cfg: EvaluateConfig) -> None:
        self.model, self.tok, self.cfg, self.source = model, tokenizer, cfg, source
        self.genes = source.genes
        self.vocab = set(self.genes)
        self.fit = source.fit
        self.n_boot, self.seed = cfg.bootstrap, cfg.seed
        present = source.tasks(cfg.split)
        wanted = cfg.tasks or sorted(present)
        missing = [t for t in wanted if t not in present]
        if missing:
            raise C2SInputError(
                f"Task(s) {missing} are not in the {cfg.split} split of {source.name}; present: {sorted(present)}."
            )
        self.tasks = wanted
        # before any generation: how many of the genes in the prompts and references the model knows
        self.coverage = gene_coverage(tokenizer, self.genes)
        self.coverage.log(f"{source.name} for this model")
        self.one_token_genes = self.coverage.mode == "whole"
        if not self.one_token_genes and cfg.generation.no_repeat_genes and self.coverage.n_known:
            log.info(
                "Genes are several known sub-word tokens each with this tokenizer: no_repeat_genes is off (sub-words "
                "repeat across genes); repeated genes are dropped when parsing instead."
            )

    def _rows(self, split: str, task: str) -> list[dict]:
        return self.source.rows(split, task)

    def _subsample(self, rows: list[dict]) -> list[dict]:
        k = self.cfg.max_examples
        if len(rows) <= k:
            return rows
        idx = np.sort(np.random.default_rng(self.seed).choice(len(rows), k, replace=False))
        return [rows[i] for i in idx]

    def _generate(self, rows: list[dict], task: str, sample: bool | None = None) -> list[str]:
        """Completions of ``rows``; ``sample``: decode by sampling (temperature, top_p) whatever do_sample says."""
        g = self.cfg.generation
        max_new = min(g.max_new_tokens, max(len(r["target_ids"]) for r in rows) + 8)
        return generate(
            self.model,
            self.tok,
            [r["prompt_ids"] for r in rows],
            max_new,
            batch_size=g.batch_size,
            do_sample=g.do_sample if sample is None else sample,
            temperature=g.temperature,
            top_p=g.top_p,
            seed=self.seed,
            desc=task + (" (sampled)" if sample else ""),
            no_repeat_tokens=g.no_repeat_genes and _needs(task).unique_genes and self.one_token_genes,
            cache=g.cache,
        )

    def _expression(self, gene_lists: list[list[str]]) -> np.ndarray:
        return reconstruct(gene_lists, self.fit, self.genes).expression

    def run(self, out_dir: Path) -> dict:
        report = {
            "split": self.cfg.split,
            "shards": self.source.name,
            "tasks": {},
            "predictions": "predictions.jsonl",
            "gene_coverage": self.coverage.report(),
        }
        predictions: list[dict] = []
        for task in self.tasks:
            rows = self._subsample(self._rows(self.cfg.split, task))
            train = self._rows("train", task)
            metric = REGISTRY[task].metric
            gen = self._generate(rows, task)
            entry = {
                "metric": metric.name,
                "n": len(rows),
                "examples": [
                    {"prompt": r["prompt"][-200:], "target": r["target"][:200], "generated": g[:200]}
                    for r, g in zip(rows[:3], gen)
                ],
            }
            scorer = {
                ACCURACY: self._labels,
                OVERLAP: self._gene_lists,
                KENDALL_TAU: self._perturbation,
                BERTSCORE: self._text,
            }[metric]
            entry.update(scorer(task, rows, train, gen, out_dir))
            parsed, scores = entry.pop("_per_example")  # each scorer: (parsed outputs, per-example scores)
            decoding = "sampled" if self.cfg.generation.do_sample else "greedy"
            predictions += prediction_records(task, rows, gen, parsed, scores, metric.score, decoding)
            if _needs(task).generated_cells and self.cfg.generation.also_sample and not self.cfg.generation.do_sample:
                sampled = self._generate(rows, task, sample=True)  # greedy cells collapse onto a few modes
                lists = [parse_genes(g, self.vocab)[0] for g in sampled]
                true = [parse_genes(r["target"], self.vocab)[0] for r in rows]
                entry["model_sampled"], per = self._cell_metrics(lists, true, self._pca(train, len(rows)))
                predictions += prediction_records(task, rows, sampled, lists, per, metric.score, "sampled")
            report["tasks"][task] = entry
            log.info("%s: %s", task, {k: round(v["value"], 3) for k, v in entry["model"].items()})
        write_text_atomic(out_dir / "predictions.jsonl", "".join(json.dumps(p) + "\n" for p in predictions))
        probe = [t for t in self.tasks if _needs(t).embeddings]
        if probe and self.cfg.embeddings:
            report["embeddings"] = self._embeddings(probe[0], out_dir)
        return report

    def _labels(self, task, rows, train, gen, out_dir) -> dict:
        true = [normalize_label(r["target"]) for r in rows]
        pred = [normalize_label(g) for g in gen]
        train_y = [normalize_label(r["target"]) for r in train]
        res = {
            "model": _label_metrics(pred, true, self.n_boot, self.seed),
            "_per_example": (pred, accuracy(pred, true)),
            "baselines": {"majority": _label_metrics(B.majority(train_y, len(rows)), true, self.n_boot, self.seed)},
        }
        if REGISTRY[task].kind == "single_cell":
            tr = self._expression([parse_genes(r["prompt"], self.vocab)[0] for r in train])
            te = self._expression([parse_genes(r["prompt"], self.vocab)[0] for r in rows])
            res["baselines"]["knn_pca"] = _label_metrics(
                B.knn_pca(tr, train_y, te, seed=self.seed), true, self.n_boot, self.seed
            )
        if _needs(task).confusion:
            plot_confusion(true, pred, out_dir / "confusion_matrix.png", f"{task}: model on {len(rows)} test cells")
        return res

    def _perturbation(self, task, rows, train, gen, out_dir) -> dict:
        res = score_perturbation(
            rows,
            train,
            gen,
            self.fit,
            self.genes,
            self.cfg.program,
            self.cfg.program_top_n,
            self.n_boot,
            self.seed,
        )
        res["_per_example"] = ([parse_genes(g, self.vocab)[0] for g in gen], res["_per_example"])
        return res

    def _gene_lists(self, task, rows, train, gen, out_dir) -> dict:
        true = [parse_genes(r["target"], self.vocab)[0] for r in rows]
        parsed = [parse_genes(g, self.vocab) for g in gen]
        pred = [p[0] for p in parsed]
        train_genes = [parse_genes(r["target"], self.vocab)[0] for r in train]
        length = int(np.median([len(t) for t in true])) if true else 0
        candidates = {"model": pred, "marginal_sampler": B.marginal_sampler(train_genes, len(rows), length, self.seed)}
        needs = _needs(task)
        if needs.generated_cells:
            labels = [json.loads(r["meta"]).get(needs.label_field, "") for r in rows]
            train_labels = [json.loads(r["meta"]).get(needs.label_field, "") for r in train]
            candidates["same_label_train_cell"] = B.same_label_sampler(train_genes, train_labels, labels, self.seed)
        res = {
            "parse": {
                "non_genes_dropped": int(sum(p[1] for p in parsed)),
                "repeats_dropped": int(sum(p[2] for p in parsed)),
            },
            "baselines": {},
        }
        real_pcs = self._pca(train, len(rows)) if needs.generated_cells else None
        for name, lists in candidates.items():
            m, per = self._cell_metrics(lists, true, real_pcs)
            if name == "model":
                res["model"], res["_per_example"] = m, (lists, per)
            else:
                res["baselines"][name] = m
        return res

    def _cell_metrics(self, lists, true, real_pcs) -> tuple[dict, np.ndarray]:
        """(overlap %, plus scFID, MMD and Wasserstein when ``real_pcs`` is given, with CIs; per-example overlap)."""
        per = overlap_pct(lists, true)
        m = {"overlap_pct": _ci(per, self.n_boot, self.seed)}
        if real_pcs is not None:
            m.update(self._distribution(lists, true, real_pcs))
        return m, per

    def _pca(self, train: list[dict], n_test: int):
        """PCA of the real training cells (targets of ``train``); at most n_test/3 components so test
        covariances are not singular."""
        from sklearn.decomposition import PCA

        x = self._expression([parse_genes(r["target"], self.vocab)[0] for r in train])
        k = max(2, min(20, n_test // 3, x.shape[0] - 1, x.shape[1]))
        return PCA(n_components=k, random_state=self.seed).fit(x)

    def _distribution(self, lists, true, pca) -> dict:
        gen = pca.transform(self._expression(lists))
        real = pca.transform(self._expression(true))
        n = min(self.n_boot, 100)  # set-level metrics: fewer resamples
        out = {}
        for name, fn in (("scfid", frechet_distance), ("mmd", mmd_rbf), ("wasserstein", wasserstein)):
            dist = lambda a, b: fn(np.asarray(a), np.asarray(b))  # noqa: E731
            out[name] = ci(bootstrap_paired(dist, list(gen), list(real), n=n, seed=self.seed, bounds=(0.0, np.inf)))
        return out

    def _text(self, task, rows, train, gen, out_dir) -> dict:
        true = [r["target"] for r in rows]
        model_dir = self.cfg.bertscore_model
        const = B.constant_text([r["target"] for r in train], len(rows))
        scores = bertscore_f1(gen, true, model_dir)
        return {
            "model": {"bertscore_f1": _ci(scores, self.n_boot, self.seed)},
            "_per_example": (gen, scores),
            "baselines": {
                "most_common_answer": {
                    "bertscore_f1": _ci(bertscore_f1(const, true, model_dir), self.n_boot, self.seed)
                }
            },
        }

    def _embeddings(self, task: str, out_dir: Path) -> dict:
        """Embeddings of the cells in ``task``'s prompts, labelled by its answers."""
        test = self._subsample(self._rows(self.cfg.split, task))
        train = self._rows("train", task)[:500]
        sent = lambda rs: [" ".join(parse_genes(r["prompt"], self.vocab)[0]) for r in rs]  # noqa: E731
        e_tr, e_te = embed_cells(self.model, self.tok, sent(train)), embed_cells(self.model, self.tok, sent(test))
        y_tr, y_te = [r["target"] for r in train], [r["target"] for r in test]
        plot_umap(e_te, y_te, out_dir / "umap.png", "model cell embeddings (test cells)", self.seed)
        return {
            "knn_probe": _label_metrics(knn_probe(e_tr, y_tr, e_te), y_te, self.n_boot, self.seed),
            "n_train": len(train),
            "n_test": len(test),
        }
