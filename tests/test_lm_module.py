"""The causal-LM module's maths: packed rows equal separate examples, the loss, the schedule."""

import math

import pytest
import torch
import torch.nn.functional as F

from c2s.models.build import build_model
from c2s.models.decoder_module import warmup_cosine
from c2s.models.lm_module import token_losses
from c2s.tokenizer import train_gene_tokenizer
from tests.conftest import tiny_decoders

TINY, GEMMA = tiny_decoders(hidden=32, head_dim=8, sliding_window=16)


@pytest.fixture(scope="module")
def tok():
    return train_gene_tokenizer(["some text about cells and genes"] * 5, ["CD3D", "CD14", "MS4A1"], 60)


@pytest.mark.parametrize("arch", [TINY, GEMMA], ids=["gpt_neox", "gemma2"])
def test_packed_row_equals_separate_examples(tok, arch):
    torch.manual_seed(0)
    model = build_model(arch, tok).eval()
    a = torch.randint(4, len(tok), (9,))
    b = torch.randint(4, len(tok), (6,))
    ids = torch.cat([a, b, torch.full((5,), tok.pad_token_id)])[None]
    pos = torch.cat([torch.arange(9), torch.arange(6), torch.zeros(5, dtype=torch.long)])[None]
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=pos, use_cache=False).logits[0]
        la = model(input_ids=a[None]).logits[0]
        lb = model(input_ids=b[None]).logits[0]
    torch.testing.assert_close(packed[:9], la, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed[9:15], lb, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("arch", [TINY, GEMMA], ids=["gpt_neox", "gemma2"])
def test_token_losses_match_manual_cross_entropy(tok, arch):
    torch.manual_seed(0)
    model = build_model(arch, tok)
    ids = torch.randint(4, len(tok), (2, 10))
    labels = ids.clone()
    labels[0, :4] = -100
    labels[1, 7:] = -100
    batch = {"input_ids": ids, "position_ids": torch.arange(10).expand(2, 10), "labels": labels}
    ce, mask = token_losses(model, batch)
    logits = model(input_ids=ids).logits  # the model's own forward (incl. Gemma-2 soft-capping)
    expect = [
        -F.log_softmax(logits[r, t], -1)[labels[r, t + 1]]
        for r in range(2)
        for t in range(9)
        if labels[r, t + 1] != -100
    ]
    torch.testing.assert_close(ce, torch.stack(expect), atol=1e-5, rtol=1e-5)
    assert mask.sum() == (labels[:, 1:] != -100).sum() == ce.numel()


def test_warmup_cosine_by_hand():
    assert warmup_cosine(0, 10, 100, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(9, 10, 100, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(10, 10, 100, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(55, 10, 100, 0.1) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert warmup_cosine(100, 10, 100, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(500, 10, 100, 0.1) == pytest.approx(0.1)
