"""Sampling and scoring completions: the EOS mask by hand, and left-padded log-probs equal to
those of each sequence alone (plain forward + log_softmax)."""

import pytest
import torch

from c2s.config.model import ModelConfig
from c2s.models.build import build_model
from c2s.models.forward import left_pad
from c2s.rl.rollout import Rollout, completion_logprobs, sample
from c2s.tokenizer import train_gene_tokenizer

GENES = [f"G{i}" for i in range(20)]


@pytest.fixture(scope="module")
def tok():
    return train_gene_tokenizer(
        ["Cell type of this cell: G1 G2 G3", "Predict the genes of a B cell"] * 5, GENES, text_vocab_size=60
    )


@pytest.mark.parametrize("arch", ["gpt_neox", "gemma2"])
def test_left_padded_logprobs_equal_unpadded(tok, arch):
    torch.manual_seed(0)
    m = ModelConfig(
        arch=arch,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        attn_implementation="eager" if arch == "gemma2" else "sdpa",
    )
    model = build_model(m, tok).eval()
    prompts = [tok.encode("G1 G2 G3", add_special_tokens=False), tok.encode("G4", add_special_tokens=False)]
    completions = [
        [tok.convert_tokens_to_ids(" G5"), tok.eos_token_id],
        [tok.convert_tokens_to_ids(" G6"), tok.pad_token_id],
    ]
    ids, mask = left_pad(prompts, tok.pad_token_id, tok.bos_token_id)
    comp = torch.tensor(completions)
    cmask = torch.tensor([[True, True], [True, False]])
    roll = Rollout(
        torch.cat([ids, comp], 1),
        torch.cat([mask, cmask.long()], 1),
        ids.shape[1],
        cmask,
        torch.tensor([True, False]),
        ["", ""],
    )
    with torch.no_grad():
        got, ent = completion_logprobs(model, roll, with_entropy=True)
        for i, (p, c) in enumerate(zip(prompts, completions)):
            n = int(cmask[i].sum())
            seq = torch.tensor([[tok.bos_token_id, *p, *c[:n]]])
            logp = torch.log_softmax(model(input_ids=seq).logits[0].float(), -1)
            want = logp[len(p) : len(p) + n].gather(-1, torch.tensor(c[:n])[:, None]).squeeze(-1)
            assert torch.allclose(got[i, :n], want, atol=1e-5)
            h = -(logp.exp() * logp).sum(-1)[len(p) : len(p) + n]
            assert torch.allclose(ent[i, :n], h, atol=1e-5)


class FixedGenerator(torch.nn.Module):
    """Returns the input followed by fixed completions (as generate does)."""

    def __init__(self, completions):
        super().__init__()
        self.completions = torch.tensor(completions)

    def generate(self, input_ids, attention_mask, **kw):
        assert not self.training  # sampling runs in eval mode
        return torch.cat([input_ids, self.completions], 1)


def test_completion_mask_stops_at_first_eos(tok):
    g5, g6 = tok.convert_tokens_to_ids(" G5"), tok.convert_tokens_to_ids(" G6")
    eos, pad = tok.eos_token_id, tok.pad_token_id
    model = FixedGenerator([[g5, eos, pad, pad], [g5, g6, g5, g6], [eos, g6, eos, pad], [g6, g6, eos, pad]])
    model.train()
    roll = sample(model, tok, [[g5], [g6]], group_size=2, max_new_tokens=4)
    assert model.training  # restored
    assert roll.completion_mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 0]]
    assert roll.finished.tolist() == [True, False, True, True]
    assert roll.lengths.tolist() == [2, 4, 1, 3]
    assert [t.split() for t in roll.texts] == [["G5"], ["G5", "G6", "G5", "G6"], [], ["G6", "G6"]]
    assert (
        roll.ids.shape == (4, 2 + 4) and roll.ids[:, 0].tolist() == [tok.bos_token_id] * 4
    )  # prompts repeated per group
