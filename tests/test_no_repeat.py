"""No gene twice in a completion, while the prompt's genes stay allowed (a perturbation model copies its control)."""

import torch

from c2s.models.no_repeat import NoRepeatInCompletion


def test_bans_completion_tokens_only():
    ids = torch.tensor([[0, 5, 6, 7, 2, 3], [0, 0, 5, 9, 4, 4]])  # prompt width 4, then 2 generated tokens per row
    scores = torch.zeros(2, 10)
    out = NoRepeatInCompletion(4)(ids, scores)
    banned = [set(torch.nonzero(torch.isinf(row)).flatten().tolist()) for row in out]
    assert banned == [{2, 3}, {4}]  # prompt tokens 5, 6, 7, 9 stay allowed
    assert torch.equal(NoRepeatInCompletion(6)(ids, scores), scores)  # nothing generated yet


class _Tok:
    pad_token_id, bos_token_id, eos_token_id = 0, 1, 2

    def batch_decode(self, rows, skip_special_tokens=True):
        return [" ".join(str(int(t)) for t in r if int(t) > 2) for r in rows]


def _copier():
    """A tiny random decoder whose logits always prefer token 40, then 39 and 41, then 38 and 42, ..."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    cfg = GPTNeoXConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    model = GPTNeoXForCausalLM(cfg).eval()
    pref = -(torch.arange(64) - 40.0).abs() - torch.arange(64) * 1e-3  # ties: the lower id first
    model.get_output_embeddings().register_forward_hook(lambda m, i, o: pref.expand_as(o).clone())
    return model


def test_generation_and_sampling_may_name_prompt_tokens():
    from c2s.eval.generate import generate
    from c2s.rl.rollout import sample

    prompt = [[40, 41, 7]]  # the preferred token is in the prompt
    out = generate(_copier(), _Tok(), prompt, 4, no_repeat_tokens=True)[0]
    assert out == "40 39 41 38"  # HF's no_repeat_ngram_size=1 bans 40 and 41 (prompt tokens): "39 38 42 37"
    roll = sample(_copier(), _Tok(), prompt, group_size=2, max_new_tokens=3, no_repeat_tokens=True, do_sample=False)
    assert roll.texts == ["40 39 41", "40 39 41"]
