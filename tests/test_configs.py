"""Every shipped config composes and validates; bad configs fail fast, naming the key."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from c2s.config.compose import CONFIG_DIR, compose_config
from c2s.config.stage import TaskMixConfig
from c2s.errors import C2SInputError
from c2s.tasks import REGISTRY
from train import validate

ROOT = Path(CONFIG_DIR)
OVERRIDE = {  # group -> how train.yaml selects an option of it
    "data": "data",
    "tokenizer": "tokenizer",
    "task_set": "task_set@tasks",
    "model": "model",
    "strategy": "strategy",
    "logger": "logger",
    "stage": "stage@stages.pretrain",
    "task_mix": "task_mix@stages.sft.task_mix",
    "interaction_arm": "+interaction_arm",  # the interaction ablation's arms (experiment=ablation_interactions)
}
NEEDS = {
    "data/h5ad": ["data.path=x.h5ad"],
    "tokenizer/pretrained": ["tokenizer.name_or_path=some/dir"],
    "stage/grpo": ["init_from=some/export"],
}
OPTIONS = sorted(f"{p.parent.name}/{p.stem}" for p in ROOT.glob("*/*.yaml") if p.parent.name in OVERRIDE)


def test_every_group_is_covered():
    groups = {p.name for p in ROOT.iterdir() if p.is_dir()}
    assert groups <= set(OVERRIDE) | {"hydra", "experiment"}, groups - set(OVERRIDE)


@pytest.mark.parametrize("option", OPTIONS)
def test_option_composes_and_validates(option):
    group, name = option.split("/")
    cfg = compose_config("train", [f"{OVERRIDE[group]}={name}", *NEEDS.get(option, [])])
    obj = OmegaConf.to_object(cfg)  # runs the schema's __post_init__ checks
    assert obj.stages


@pytest.mark.parametrize("root", ["train", "prepare", "sentences"])
def test_root_configs_compose(root):
    OmegaConf.to_object(compose_config(root, []))


@pytest.mark.parametrize("path", sorted((ROOT / "task_mix").glob("*.yaml")), ids=lambda p: p.stem)
def test_task_mixes_name_real_tasks(path):
    mix = OmegaConf.merge(OmegaConf.structured(TaskMixConfig), OmegaConf.load(path))
    assert set(mix.weights) <= set(REGISTRY)


def test_unknown_key_rejected_with_its_name():
    with pytest.raises(Exception, match="stages.pretrain.learning_rate"):
        compose_config("train", ["stages.pretrain.learning_rate=0.1"])
    for added, name in (("+modle.hidden_size=3", "modle"), ("+stages.sft.lora.rank=4", r"stages\.sft\.lora\.rank")):
        with pytest.raises(C2SInputError, match=f"Unknown config key.*{name}"):  # "+" slips past OmegaConf
            validate(compose_config("train", [added]))


def test_mistyped_value_rejected():
    with pytest.raises(Exception, match="max_epochs"):
        compose_config("train", ["stages.pretrain.max_epochs=lots"])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["stages.sft.lora.enabled=true", "~stage@stages.pretrain"], "LoRA adapts trained weights"),
        (
            ["model=gemma2-2b", "model.attn_implementation=sdpa"],
            "attn_implementation='sdpa' is not supported by gemma2",
        ),
        (["tasks.options.prompt_format=c2s-scale"], r"prompt_format='c2s-scale' is not one of"),
        (["model.init=pretrained"], "needs model.name_or_path"),
        (["strategy.name=tpu"], "strategy.name='tpu'"),
        (["data=h5ad", "data.path=/no/such/file.h5ad"], "no such file"),
        (["top_k=-5"], r"top_k=-5 must be a positive integer"),
        (["split.val_fraction=1.2"], r"split.val_fraction=1.2 must be in \[0, 1\)"),
        (["split.test_fraction=-0.1"], r"split.test_fraction=-0.1 must be in \[0, 1\)"),
        (["split.val_fraction=0.5", "split.test_fraction=0.5"], "leaves no cells to train on"),
        (["stages.pretrain.max_steps=0"], r"max_steps=0.*0 would train nothing"),
        (["stages.pretrain.max_epochs=0"], r"max_epochs=0.*0 would export untrained weights"),
        (["rows_per_shard=0"], r"rows_per_shard=0 must be a positive integer"),
        (["stages.sft.batch_size=0"], r"stage.batch_size=0 must be a positive integer"),
        (["tasks.options.genes_per_cell=0"], r"tasks.options.genes_per_cell=0 must be a positive integer"),
        (["num_workers=-1"], r"num_workers=-1 must be >= 0"),
    ],
)
def test_impossible_combinations_fail_before_work(overrides, message, tmp_path):
    cfg = compose_config("train", [f"shards_root={tmp_path}", *overrides])
    with pytest.raises(C2SInputError, match=message):
        validate(cfg)
    assert not any(tmp_path.iterdir()), "validation must run before any data work"


@pytest.mark.parametrize("key", ["shards_root", "run_dir"])
def test_unwritable_output_dirs_fail_before_work(key, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    for bad in (blocker / "out", "/proc/c2s-out"):  # under a file; a read-only filesystem (even for root)
        cfg = compose_config("train", [f"shards_root={tmp_path}/shards", f"{key}={bad}"])
        with pytest.raises(C2SInputError, match=f"{key}=.* is not writable"):
            validate(cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_a_directory_of_h5ad_files_is_a_data_path(tmp_path):
    from tests.conftest import make_counts

    (tmp_path / "in").mkdir()
    make_counts(30, 20).write_h5ad(tmp_path / "in" / "a.h5ad")
    cfg = compose_config("train", [f"shards_root={tmp_path}/s", "data=h5ad", f"data.path={tmp_path}/in"])
    assert validate(cfg).data.path == f"{tmp_path}/in"
    (tmp_path / "empty").mkdir()
    cfg = compose_config("train", [f"shards_root={tmp_path}/s", "data=h5ad", f"data.path={tmp_path}/empty"])
    with pytest.raises(C2SInputError, match="matches no .h5ad file"):
        validate(cfg)
