"""evaluate.py: the HF export and the Lightning checkpoint give the same numbers; reports and
pictures are written; bad inputs fail with clear errors."""

import json

import numpy as np
import pytest

from c2s.config.compose import compose_config
from c2s.data.prepare import prepare
from c2s.errors import C2SInputError
from c2s.scoring.parse import normalize_label
from tests.conftest import prepare_config, train_overrides
from train import run as train_run

EVAL = [
    "tasks=[cell_type_annotation,cell_lm,nl_interpretation]",
    "max_examples=12",
    "bootstrap=50",
    "generation.max_new_tokens=40",
    "generation.batch_size=6",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ev")
    cfg = compose_config(
        "train",
        train_overrides(
            tmp,
            "tasks.names=[cell_lm,cell_type_annotation,nl_interpretation]",
            "stages.pretrain.max_steps=6",
            "stages.sft.max_steps=4",
        ),
    )
    train_run(cfg)
    return tmp / "run" / "sft"


def _evaluate(ckpt, out, *extra):
    from evaluate import run

    return run(compose_config("evaluate", [f"ckpt={ckpt}", f"out_dir={out}", *EVAL, *extra]))


def test_export_and_checkpoint_give_the_same_numbers(trained, tmp_path):
    a = _evaluate(trained / "hf", tmp_path / "a")
    b = _evaluate(trained / "checkpoints" / "last.ckpt", tmp_path / "b")
    for task in ("cell_type_annotation", "cell_lm", "nl_interpretation"):
        assert a["tasks"][task]["model"] == b["tasks"][task]["model"], task
        assert a["tasks"][task]["examples"] == b["tasks"][task]["examples"]
    assert a["tasks"]["cell_lm"]["model_sampled"] == b["tasks"]["cell_lm"]["model_sampled"]  # seeded sampling
    for name in ("report.json", "report.md", "confusion_matrix.png", "umap.png"):
        assert (tmp_path / "a" / name).exists(), name
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    ct = report["tasks"]["cell_type_annotation"]
    assert {"majority", "knn_pca"} <= set(ct["baselines"])
    acc = ct["model"]["accuracy"]
    assert acc["ci_low"] <= acc["value"] <= acc["ci_high"]
    assert {"scfid", "mmd", "wasserstein", "overlap_pct"} <= set(report["tasks"]["cell_lm"]["model"])
    assert "bertscore_f1" in report["tasks"]["nl_interpretation"]["model"]
    assert "| cell_type_annotation |" in (tmp_path / "a" / "report.md").read_text()
    rows = [json.loads(line) for line in (tmp_path / "a" / "predictions.jsonl").read_text().splitlines()]
    by_task = {t: [r for r in rows if r["task"] == t and r["decoding"] == "greedy"] for t in report["tasks"]}
    for task, e in report["tasks"].items():  # one row per scored example; the mean of its scores is the metric
        assert len(by_task[task]) == e["n"]
    sampled = [r for r in rows if r["decoding"] == "sampled"]
    assert {r["task"] for r in sampled} == {"cell_lm"} and len(sampled) == report["tasks"]["cell_lm"]["n"]
    assert np.mean([r["overlap_pct"] for r in sampled]) == pytest.approx(
        report["tasks"]["cell_lm"]["model_sampled"]["overlap_pct"]["value"]
    )
    # greedy decoding repeats itself across cells; sampling spreads out
    assert len({r["generated"] for r in sampled}) > len({r["generated"] for r in by_task["cell_lm"]})
    assert "| model, sampled |" in (tmp_path / "a" / "report.md").read_text()
    ann = by_task["cell_type_annotation"]
    assert np.mean([r["correct"] for r in ann]) == pytest.approx(ct["model"]["accuracy"]["value"])
    assert all(r["correct"] == float(r["parsed"] == normalize_label(r["reference"])) for r in ann)
    assert np.mean([r["overlap_pct"] for r in by_task["cell_lm"]]) == pytest.approx(
        report["tasks"]["cell_lm"]["model"]["overlap_pct"]["value"]
    )
    assert np.mean([r["bertscore_f1"] for r in by_task["nl_interpretation"]]) == pytest.approx(
        report["tasks"]["nl_interpretation"]["model"]["bertscore_f1"]["value"]
    )
    assert {"prompt", "reference", "generated", "parsed", "cell_ids"} <= set(ann[0])
    card = (trained / "hf" / "README.md").read_text()  # the export's model card now holds the table
    assert card.startswith("---\nlibrary_name: transformers") and "| cell_type_annotation |" in card
    assert "Not evaluated yet" not in card and "## Use" in card


def test_missing_checkpoint(tmp_path):
    with pytest.raises(C2SInputError, match="does not exist"):
        _evaluate(tmp_path / "nope", tmp_path)


def test_tokenizer_mismatch(trained, tmp_path):
    other = prepare(prepare_config(tmp_path, "tokenizer.text_vocab_size=200", "tasks.names=[cell_type_annotation]"))
    with pytest.raises(C2SInputError, match="does not match the one the shards"):
        _evaluate(trained / "hf", tmp_path / "o", f"shards={other}")


def test_task_the_shards_lack(trained, tmp_path):
    with pytest.raises(C2SInputError, match=r"\['tissue_annotation'\] are not in the test split"):
        _evaluate(trained / "hf", tmp_path / "o", "tasks=[tissue_annotation]")


EVIL_CODE = """
from transformers import PretrainedConfig, PreTrainedModel
open({marker!r}, "w").write("code from a checkpoint ran")


class EvilConfig(PretrainedConfig):
    model_type = "c2s_evil"


class EvilModel(PreTrainedModel):
    config_class = EvilConfig
"""


def _evil_dir(tmp_path):
    evil, marker = tmp_path / "evil", tmp_path / "marker"
    evil.mkdir()
    (evil / "evil.py").write_text(EVIL_CODE.format(marker=str(marker)))
    (evil / "config.json").write_text(
        json.dumps(
            {
                "model_type": "c2s_evil",
                "architectures": ["EvilModel"],
                "auto_map": {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"},
            }
        )
    )
    return evil, marker


def test_checkpoint_cannot_make_evaluate_run_code(trained, tmp_path):
    """A .ckpt's hyper-parameters asking for trust_remote_code on a directory with custom code."""
    import torch

    evil, marker = _evil_dir(tmp_path)
    state = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    state["hyper_parameters"]["init_from"] = str(evil)
    state["hyper_parameters"]["model"] = dict(
        state["hyper_parameters"]["model"], trust_remote_code=True, init="pretrained", name_or_path=str(evil)
    )
    torch.save(state, tmp_path / "hostile.ckpt")
    with pytest.raises(Exception) as err:
        _evaluate(tmp_path / "hostile.ckpt", tmp_path / "o")
    assert not marker.exists(), "code named by the checkpoint ran"
    assert err.type is C2SInputError and "trust_remote_code=true yourself" in str(err.value)


def test_export_with_custom_code_is_refused(tmp_path):
    import shutil

    evil, marker = _evil_dir(tmp_path)
    shutil.copy(evil / "config.json", evil / "tokenizer_config.json")
    with pytest.raises(C2SInputError, match="trust_remote_code=true yourself"):
        _evaluate(evil, tmp_path / "o")
    assert not marker.exists()


def test_export_without_tokenizer_names_the_right_fix(trained, tmp_path):
    import shutil

    export = tmp_path / "hf"
    shutil.copytree(trained / "hf", export)
    for f in export.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens")):
            f.unlink()
    with pytest.raises(C2SInputError, match="no tokenizer files.*Copy the tokenizer it was trained with"):
        _evaluate(export, tmp_path / "o")


def test_checkpoint_whose_base_export_moved(trained, tmp_path):
    import torch

    state = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    base = state["hyper_parameters"]["init_from"]
    state["hyper_parameters"]["init_from"] = str(tmp_path / "moved" / "pretrain" / "hf")
    torch.save(state, tmp_path / "sft.ckpt")
    with pytest.raises(C2SInputError, match="no longer exists.*init_from=<where that export is now>"):
        _evaluate(tmp_path / "sft.ckpt", tmp_path / "o")
    report = _evaluate(
        tmp_path / "sft.ckpt", tmp_path / "o", f"init_from={base}", "tasks=[cell_type_annotation]", "embeddings=false"
    )
    assert "cell_type_annotation" in report["tasks"]
