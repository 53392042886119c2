"""Training integration: every stage trains (fast_dev_run), LoRA touches only adapters, the HF
export reloads with plain transformers and generates."""

import json

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf

from c2s.config.compose import compose_config
from c2s.config.train import TrainConfig
from c2s.config.validate import from_dict
from c2s.data.datamodule import C2SDataModule
from c2s.data.prepare import prepare
from c2s.models.lm_module import CausalLMModule
from tests.conftest import train_overrides
from train import run, validate


@pytest.fixture(scope="module")
def pretrained_export(tmp_path_factory):
    """A short real pre-training run (8 steps) exported as an HF dir."""
    tmp = tmp_path_factory.mktemp("pre")
    cfg = compose_config(
        "train",
        train_overrides(
            tmp, "~stage@stages.sft", "stages.pretrain.max_steps=8", "stages.pretrain.ckpt_every_n_steps=4"
        ),
    )
    export = run(cfg)
    return tmp, export


def test_pretrain_writes_checkpoint_export_and_summary(pretrained_export):
    tmp, export = pretrained_export
    stage = tmp / "run" / "pretrain"
    assert (stage / "checkpoints" / "last.ckpt").exists()
    assert (export / "model.safetensors").exists() and (export / "tokenizer.json").exists()
    summary = json.loads((stage / "summary.json").read_text())
    assert summary["steps"] == 8 and len(summary["val_history"]) == 2  # before training and at the end
    assert summary["val_history"][-1]["loss"] < summary["val_history"][0]["loss"]
    assert "cell_type_annotation" in summary["val_history"][-1]["tasks"]
    assert (tmp / "run" / "summary.md").read_text().startswith("# Training run summary")
    history = [json.loads(line) for line in (stage / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == list(range(1, 9))
    card = (export / "README.md").read_text()  # a model card in the hub's conventions
    assert card.startswith("---\nlibrary_name: transformers\npipeline_tag: text-generation")
    assert f"8 optimizer steps, {summary['tokens_per_step']:,} tokens per step" in card
    assert "`cell_type_annotation`" in card and "Not evaluated yet" in card


@pytest.mark.parametrize(
    "stage_overrides",
    [
        ["~stage@stages.sft"],  # pretrain only
        ["~stage@stages.pretrain"],  # sft, full fine-tuning
        ["~stage@stages.pretrain", "stages.sft.lora.enabled=true"],  # sft, LoRA
    ],
    ids=["pretrain", "sft_full", "sft_lora"],
)
def test_fast_dev_run_every_stage(pretrained_export, stage_overrides, tmp_path):
    _, export = pretrained_export
    cfg = compose_config(
        "train", train_overrides(tmp_path, *stage_overrides, "fast_dev_run=true", f"init_from={export}")
    )
    validate(cfg)
    export = run(cfg)
    assert not (tmp_path / "run" / "summary.json").exists()  # fast_dev_run writes no results
    from safetensors.torch import load_file

    keys = load_file(export / "model.safetensors").keys()
    assert keys and not any("lora" in k for k in keys)  # LoRA is merged into the export


def test_wandb_offline_one_run_per_job(pretrained_export, tmp_path, monkeypatch):
    import wandb

    for var in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(var, raising=False)
    _, export = pretrained_export
    cfg = compose_config(
        "train",
        train_overrides(
            tmp_path, "logger=wandb", "logger.group=sweep-a", "stages.pretrain.max_steps=2", "stages.sft.max_steps=2"
        ),
    )
    run(cfg)
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, runs  # both stages log into one offline run
    assert wandb.run is None  # finished at the end of the job


def test_lora_trains_only_adapters(pretrained_export, tmp_path):
    _, export = pretrained_export
    cfg = OmegaConf.to_container(
        compose_config("train", train_overrides(tmp_path, "stages.sft.lora.enabled=true")), resolve=True
    )
    shards = prepare(from_dict(TrainConfig, cfg, "config"))
    stage = cfg["stages"]["sft"]
    dm = C2SDataModule(
        shards_dir=str(shards),
        weights=stage["task_mix"]["weights"],
        default_weight=0.0,
        mode="sft",
        max_seq_len=256,
        batch_size=4,
    )
    dm.setup()
    module = CausalLMModule(cfg["model"], stage, dm.tokenizer, dm.tasks, total_steps=5, init_from=str(export))
    module.configure_model()
    before = {k: v.detach().clone() for k, v in module.model.state_dict().items()}
    L.Trainer(
        max_steps=5,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    ).fit(module, datamodule=dm)
    after = module.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("lora_" in k for k in changed)
    trainable = {n for n, p in module.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert changed == {k for k in before if "lora_A" in k or "lora_B" in k}


def test_export_reloads_with_plain_transformers_and_generates(pretrained_export):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, export = pretrained_export
    model = AutoModelForCausalLM.from_pretrained(export)
    tok = AutoTokenizer.from_pretrained(export)
    ids = tok("Cell type of this cell?", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] > ids.shape[1]
    assert isinstance(tok.decode(out[0, ids.shape[1] :]), str)


def test_users_own_h5ad_with_overrides_only(tmp_path):
    from c2s.io.synthetic import make_synthetic

    path = tmp_path / "my_cells.h5ad"
    make_synthetic(n_cells=120, seed=3).write_h5ad(path)
    overrides = [o for o in train_overrides(tmp_path, "fast_dev_run=true") if o != "data=synthetic"]
    cfg = compose_config("train", ["data=h5ad", f"data.path={path}", "data.cell_type_key=cell_type", *overrides])
    assert validate(cfg).data.name == "my_cells"
    run(cfg)
    assert list((tmp_path / "shards").glob("my_cells-*/manifest.json"))
