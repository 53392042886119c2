"""Sweeps: experiments compose, a 2-job multirun logs 2 offline W&B runs in one group and writes
2 result files that c2s.scaling reads; the SLURM launcher's dry run prints the plan."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from c2s.cli.plan import job_plan
from c2s.config.compose import CONFIG_DIR, compose_config

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes(name):
    cfg = compose_config("train", [f"experiment={name}"])
    OmegaConf.to_object(cfg)


def test_slurm_dry_run_prints_plan(capsys):
    jobs, launcher = job_plan(["experiment=scaling_params", "hydra/launcher=slurm"])
    assert "SlurmLauncher" in launcher["_target_"]
    assert len(jobs) >= 5 and all(any(o.startswith("model=scale-") for o in job) for job in jobs)
    from c2s.cli.plan import main

    main(["experiment=scaling_params", "hydra/launcher=slurm"])
    out = capsys.readouterr().out
    assert "nothing submitted" in out and "model=scale-5" in out


@pytest.mark.slow
def test_two_job_multirun_groups_and_results(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "WANDB_MODE")}
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "data=synthetic",
        f"shards_root={tmp_path}/shards",
        "logger=wandb",
        "logger.group=g1",
        "run_stages=[pretrain]",
        "tasks.names=[cell_lm,cell_type_annotation]",
        "top_k=30",
        "tasks.options.genes_per_cell=30",
        "tokenizer.text_vocab_size=300",
        "stages.pretrain.max_seq_len=256",
        "stages.pretrain.batch_size=4",
        "stages.pretrain.max_steps=3,4",
        "evaluate.enabled=true",  # each job scores its export on the test split into result.json
        "evaluate.max_examples=8",
        "evaluate.bootstrap=50",
        "evaluate.generation.max_new_tokens=30",
        "name=steps${stages.pretrain.max_steps}",
        f"run_dir={tmp_path}/sweep/${{name}}",
        f"hydra.sweep.dir={tmp_path}/hydra",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted((tmp_path / "sweep").glob("*/result.json"))
    assert len(results) == 2
    runs = sorted((tmp_path / "sweep").glob("*/wandb/offline-run-*"))
    assert len(runs) == 2 and all("-g1-" in r.name for r in runs)  # run ids are <group>-<name>
    assert {json.loads(r.read_text())["group"] for r in results} == {"g1"}
    metrics = json.loads(results[0].read_text())["metrics"]
    acc = metrics["cell_type_annotation"]["model"]["accuracy"]
    assert acc["ci_low"] <= acc["value"] <= acc["ci_high"] and "knn_pca" in metrics["cell_type_annotation"]["baselines"]
    assert "scfid" in metrics["cell_lm"]["model_sampled"]  # generated cells: greedy and sampled
    out = subprocess.run(
        [sys.executable, "-m", "c2s.scaling", str(tmp_path / "sweep")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads((tmp_path / "sweep" / "scaling.json").read_text())
    assert len(report["runs"]) == 2 and (tmp_path / "sweep" / "loss_vs_params.png").exists()
    assert (tmp_path / "sweep" / "metrics_vs_flops.png").exists()
    assert "cell_type_annotation/accuracy" in (tmp_path / "sweep" / "scaling.md").read_text()


def _summary(path: Path, steps: int, tokens_per_step: float, examples_per_step: float, trainable: int) -> None:
    path.mkdir(parents=True)
    (path / "summary.json").write_text(
        json.dumps(
            {
                "steps": steps,
                "seconds": 1.5,
                "tokens_per_step": tokens_per_step,
                "examples_per_step": examples_per_step,
                "parameters": {"total": 1000, "trainable": trainable, "non_embedding": 600},
                "val_history": [{"loss": 2.0, "tasks": {"cell_lm": 2.0}}],
            }
        )
    )


def test_result_counts_tokens_prompts_and_the_base_it_started_from(tmp_path):
    """tokens = Σ steps·tokens_per_step over the run's stages plus the init_from export's stage; FLOPs = 6·N·D."""
    from c2s.config.train import TrainConfig
    from c2s.config.validate import validate_config
    from c2s.training.report import write_result

    _summary(tmp_path / "base" / "pretrain", steps=10, tokens_per_step=100.0, examples_per_step=4.0, trainable=1000)
    _summary(tmp_path / "run" / "sft", steps=5, tokens_per_step=50.0, examples_per_step=2.0, trainable=40)
    overrides = ["run_stages=[sft]", f"run_dir={tmp_path}/run", f"shards_root={tmp_path}/shards", "logger=none"]
    cfg = validate_config(compose_config("train", overrides), TrainConfig)
    alone = write_result(tmp_path / "run", cfg)
    assert (alone["tokens"], alone["examples"], alone["trainable_params"]) == (250.0, 10.0, 40)
    assert alone["flops"] == 6 * 600 * 250.0
    cfg = validate_config(compose_config("train", [*overrides, f"init_from={tmp_path}/base/pretrain/hf"]), TrainConfig)
    based = write_result(tmp_path / "run", cfg)
    assert (based["tokens"], based["examples"]) == (1250.0, 50.0)
    assert based["stages"] == {"init_from": {"steps": 10, "seconds": 1.5}, "sft": {"steps": 5, "seconds": 1.5}}
    summary = tmp_path / "base" / "pretrain" / "summary.json"  # a base written before prompts were counted
    fields = json.loads(summary.read_text())
    summary.write_text(json.dumps({k: v for k, v in fields.items() if k != "examples_per_step"}))
    old = write_result(tmp_path / "run", cfg)
    assert old["tokens"] == 1250.0 and old["examples"] is None  # unknown, not a silent 0


def test_plan_lets_the_command_line_win_over_sweeper_params():
    """lora_vs_full sweeps r=8,64 × 3 seeds; fixing r on the command line leaves the 3 seeds (as Hydra runs it)."""
    assert len(job_plan(["experiment=lora_vs_full"])[0]) == 6
    jobs = job_plan(["experiment=lora_vs_full", "stages.sft.lora.r=8", "stages.sft.lora.enabled=false"])[0]
    assert len(jobs) == 3 and all(job.count("stages.sft.lora.r=8") == 1 for job in jobs)
    assert sorted(j[-1] for j in jobs) == [f"stages.sft.seed={s}" for s in range(3)]


def test_interaction_ablation_runs_four_arms_by_three_seeds():
    jobs = job_plan(["experiment=ablation_interactions"])[0]
    names = set()
    for job in jobs:
        cfg = OmegaConf.to_object(compose_config("train", job))
        names.add(cfg.name)
        arm = cfg.name.split("-")[0]
        assert cfg.tasks.options.interaction_context == (arm in ("context", "both"))
        assert ("interaction_partners" in cfg.tasks.names) == (arm in ("tasks", "both"))
    assert names == {f"{a}-s{s}" for a in ("none", "tasks", "context", "both") for s in range(3)}
