"""Device-related options fail clearly on bad values and do the right thing on CPU."""

import pytest
import torch

from c2s.config.model import ModelConfig
from c2s.config.stage import GRPOConfig
from c2s.errors import C2SInputError
from c2s.eval.generate import generate
from c2s.eval.load import to_device


def test_eval_device_auto_is_cpu_float32_without_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    model = to_device(torch.nn.Linear(2, 2), "auto")
    assert model.weight.device.type == "cpu" and model.weight.dtype == torch.float32
    with pytest.raises(C2SInputError, match="sees no GPU"):
        to_device(torch.nn.Linear(2, 2), "cuda")


def test_eval_device_rejects_nonsense():
    with pytest.raises(C2SInputError, match="not a torch device"):
        to_device(torch.nn.Linear(2, 2), "gpu0")


def test_generation_cache_must_be_known():
    with pytest.raises(C2SInputError, match="generation.cache"):
        generate(None, None, [[1]], 4, cache="paged")


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(logits_chunk=0), "logits_chunk"),
        (dict(vocab_size=0), "vocab_size"),
        (dict(attn_implementation="flash"), "attn_implementation"),
    ],
)
def test_model_config_rejects(bad, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**bad)


def test_grpo_cache_must_be_known():
    with pytest.raises(ValueError, match="grpo.cache"):
        GRPOConfig(cache="paged")
