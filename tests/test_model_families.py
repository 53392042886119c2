"""Model families are data (c2s.config.families): Llama and Qwen2 came in as a spec and a YAML each, and they
train in full and with LoRA, export, and reload with plain transformers; nothing outside the spec table tests a
family's name."""

import re
from pathlib import Path

import pytest
import torch

from c2s.config.compose import compose_config
from c2s.config.families import FAMILIES, GENERIC
from c2s.config.model import ModelConfig
from c2s.models.build import attention_for
from tests.conftest import train_overrides
from train import run

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("model", ["llama-tiny", "qwen2-tiny"])
def test_new_family_trains_full_and_lora_and_reloads(model, tmp_path):
    from transformers import AutoModelForCausalLM

    full = run(
        compose_config(
            "train",
            train_overrides(tmp_path, f"model={model}", "~stage@stages.sft", "stages.pretrain.max_steps=3"),
        )
    )
    lora = run(
        compose_config(
            "train",
            train_overrides(
                tmp_path,
                f"model={model}",
                "~stage@stages.pretrain",
                "stages.sft.lora.enabled=true",
                "fast_dev_run=true",
                f"init_from={full}",
                f"run_dir={tmp_path}/lora",
            ),
        )
    )
    for export in (full, lora):
        reloaded = AutoModelForCausalLM.from_pretrained(export)
        assert reloaded.config.model_type == model.split("-")[0]
        assert reloaded.get_output_embeddings().weight is reloaded.get_input_embeddings().weight  # tied, as released
        out = reloaded.generate(torch.tensor([[1, 5, 6]]), max_new_tokens=3, do_sample=False)
        assert out.shape[1] > 3


def test_capabilities_not_names_decide():
    neox, gemma = FAMILIES["gpt_neox"], FAMILIES["gemma2"]
    assert attention_for(ModelConfig(arch="gpt_neox"), "cpu") == neox.attention[0] == "sdpa"
    assert attention_for(ModelConfig(arch="gemma2"), "cpu") == gemma.attention[0] == "eager"
    assert attention_for(ModelConfig(arch="llama"), "cuda") == "flex_attention"
    with pytest.raises(ValueError, match="not supported by gemma2.*soft-capping"):
        ModelConfig(arch="gemma2", attn_implementation="sdpa")
    # a pretrained checkpoint names its own family; an unlisted one loads with generic capabilities
    assert ModelConfig(init="pretrained", name_or_path="someone/unknown-model", arch="mistral").family() is GENERIC


def test_pretrained_family_comes_from_its_config_json(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gemma2"}')
    m = ModelConfig(init="pretrained", name_or_path=str(tmp_path), arch="gpt_neox")  # arch is not what counts
    assert m.family().model_type == "gemma2"
    with pytest.raises(ValueError, match="not supported by gemma2"):
        ModelConfig(init="pretrained", name_or_path=str(tmp_path), attn_implementation="sdpa")


def test_no_module_tests_a_family_name():
    names = "|".join(re.escape(n) for n in FAMILIES)
    pattern = re.compile(rf"""(==|!=|\bin)\s*\(?["']({names})["']|["']({names})["']\s*(==|!=)""")
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in (ROOT / "c2s").rglob("*.py")
        if p.name != "families.py"
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders
