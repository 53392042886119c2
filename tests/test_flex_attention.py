"""Packed attention through flex_attention (the GPU default): the same logits, losses and gradients
as the reference path (sdpa / eager with transformers' dense block-diagonal mask), and as each
example run alone; on CPU always (forward: torch has no CPU flex backward), on CUDA when there
is one (gradients too). Also: the chunked LM-head loss and what ``attn_implementation=auto`` picks."""

from dataclasses import replace

import pytest
import torch

from c2s.models.build import attention_for, build_model
from c2s.models.lm_module import head_losses, token_losses
from c2s.tokenizer import train_gene_tokenizer
from tests.conftest import tiny_decoders

# head_dim 16: the smallest flex_attention's GPU kernel takes; sliding window 8 < the longest example (24),
# so the sliding layers' window is exercised too
TINY, GEMMA = tiny_decoders(hidden=64, head_dim=16, sliding_window=8)
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]


@pytest.fixture(scope="module")
def tok():
    return train_gene_tokenizer(["some text about cells and genes"] * 5, ["CD3D", "CD14", "MS4A1"], 60)


def _pair(arch, tok, device: str):
    torch.manual_seed(0)
    ref = build_model(arch, tok).to(device)
    flex = build_model(replace(arch, attn_implementation="flex_attention"), tok).to(device)
    flex.load_state_dict(ref.state_dict())
    if arch.arch == "gemma2":  # soft-capping that bites at these tiny logits (default 50 would not)
        for m in (ref, flex):
            m.config.attn_logit_softcapping = 0.5
            m.config.final_logit_softcapping = 2.0
    return ref, flex


def _packed_batch(tok, device: str):
    g = torch.Generator().manual_seed(1)
    lengths = [[11, 24, 9], [30, 17]]  # two rows of 48: padding at the end of each
    ids, pos, labels = [], [], []
    for row in lengths:
        parts = [torch.randint(4, len(tok), (n,), generator=g) for n in row]
        pad = 48 - sum(row)
        ids.append(torch.cat(parts + [torch.full((pad,), tok.pad_token_id)]))
        pos.append(torch.cat([torch.arange(n) for n in row] + [torch.zeros(pad, dtype=torch.long)]))
        lab = torch.cat([torch.cat([torch.tensor([-100]), p[1:]]) for p in parts] + [torch.full((pad,), -100)])
        labels.append(lab)
    batch = {"input_ids": torch.stack(ids), "position_ids": torch.stack(pos), "labels": torch.stack(labels)}
    return {k: v.to(device) for k, v in batch.items()}, lengths


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("arch", [TINY, GEMMA], ids=["gpt_neox", "gemma2"])
def test_flex_equals_reference_logits_losses_and_grads(tok, arch, device):
    ref, flex = _pair(arch, tok, device)
    batch, lengths = _packed_batch(tok, device)
    assert flex.config._attn_implementation == "flex_attention"
    backward = device == "cuda"  # torch has no flex_attention backward on CPU
    tol = (
        dict(atol=2e-5, rtol=1e-4) if device == "cpu" else dict(atol=1e-4, rtol=1e-3)
    )  # float32; GPU kernels differ in order
    losses = {}
    for name, model in (("ref", ref), ("flex", flex)):
        with torch.set_grad_enabled(backward):
            ce, mask = token_losses(model, batch)
        if backward:
            ce.sum().backward()
        losses[name] = ce.detach()
    torch.testing.assert_close(losses["flex"], losses["ref"], **tol)
    for (n, p_ref), p_flex in zip(ref.named_parameters(), flex.parameters()):
        if backward:
            torch.testing.assert_close(p_flex.grad, p_ref.grad, atol=1e-4, rtol=5e-3, msg=n)
    with torch.no_grad():  # and each packed example equals that example run alone
        packed = flex(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
        for r, row in enumerate(lengths):
            c = 0
            for n in row:
                alone = ref(input_ids=batch["input_ids"][r : r + 1, c : c + n]).logits[0]
                torch.testing.assert_close(packed[r, c : c + n], alone, **tol)
                c += n


def test_flex_differs_when_examples_leak(tok):
    """The check above can fail: with one position sequence over the row (no restarts), the
    second example attends to the first and its logits change."""
    ref, flex = _pair(TINY, tok, "cpu")
    batch, lengths = _packed_batch(tok, "cpu")
    with torch.no_grad():
        leaky = flex(input_ids=batch["input_ids"], position_ids=torch.arange(48).expand(2, -1)).logits
        alone = ref(input_ids=batch["input_ids"][:1, 11:35]).logits[0]
    assert (leaky[0, 11:35] - alone).abs().max() > 1e-3


@pytest.mark.parametrize("arch", [TINY, GEMMA], ids=["gpt_neox", "gemma2"])
def test_chunked_head_losses_equal_full(tok, arch):
    torch.manual_seed(0)
    model = build_model(arch, tok)
    head = model.get_output_embeddings()
    hidden = torch.randn(37, arch.hidden_size, requires_grad=True)
    labels = torch.randint(0, len(tok), (37,))
    full = head_losses(head, hidden, labels, cap=2.0, chunk=10**9)
    (g_full,) = torch.autograd.grad(full.sum(), hidden)
    chunked = head_losses(head, hidden, labels, cap=2.0, chunk=len(tok) * 5)  # 5 tokens per chunk: 8 chunks
    (g_chunk,) = torch.autograd.grad(chunked.sum(), hidden)
    torch.testing.assert_close(chunked, full)
    torch.testing.assert_close(g_chunk, g_full)
    logits = torch.tanh(head(hidden) / 2.0) * 2.0  # by hand: soft-capped cross-entropy
    expected = torch.logsumexp(logits, 1) - logits[torch.arange(37), labels]
    torch.testing.assert_close(full, expected, atol=1e-5, rtol=1e-5)


def test_auto_attention_choice():
    assert attention_for(replace(TINY, attn_implementation="auto"), "cuda") == "flex_attention"
    assert attention_for(replace(TINY, attn_implementation="auto"), "cpu") == "sdpa"
    assert attention_for(replace(GEMMA, attn_implementation="auto"), "cpu") == "eager"
    assert attention_for(replace(GEMMA, attn_implementation="auto"), "cuda", packed=False) == "eager"
    assert attention_for(replace(TINY, attn_implementation="sdpa"), "cuda") == "sdpa"


def test_vocab_size_pads_embeddings(tok):
    model = build_model(replace(TINY, vocab_size=512), tok)
    assert model.get_input_embeddings().num_embeddings == 512
    assert build_model(replace(TINY, vocab_size=8), tok).get_input_embeddings().num_embeddings == len(tok)
