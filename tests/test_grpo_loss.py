"""GRPO objective on small hand-made tensors against values computed by hand."""

import math

import pytest
import torch

from c2s.rl.grpo_loss import group_advantages, grpo_loss


def test_group_advantages_by_hand():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 4.0])
    a = group_advantages(r, 3)
    std1 = math.sqrt(((1 - 1 / 3) ** 2 + 2 * (1 / 3) ** 2) / 2)  # unbiased std of [1, 0, 0]
    assert a[0].item() == pytest.approx((1 - 1 / 3) / (std1 + 1e-4), rel=1e-6)
    assert group_advantages(r, 3, scale=False).tolist() == pytest.approx([2 / 3, -1 / 3, -1 / 3, -4 / 3, -1 / 3, 5 / 3])
    with pytest.raises(ValueError, match="group_size >= 2"):
        group_advantages(r, 1)


# two completions, three token slots; completion 2 has only two active tokens
LOGP_OLD = torch.zeros(2, 3)
LOGP = torch.log(torch.tensor([[1.5, 1.0, 0.5], [0.5, 1.1, 2.0]]))  # ratios
ADV = torch.tensor([1.0, -2.0])
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])


def _hand(beta=0.0, ref=None, agg="grpo"):
    ratios = [[1.5, 1.0, 0.5], [0.5, 1.1, 2.0]]
    adv = [1.0, -2.0]
    per = []
    for i in range(2):
        row = []
        for t in range(3):
            rho = ratios[i][t]
            clipped = min(max(rho, 0.8), 1.2)
            term = -min(rho * adv[i], clipped * adv[i])
            if beta:
                d = ref[i][t] - math.log(rho)
                term += beta * (math.exp(d) - d - 1)
            row.append(term)
        per.append(row)
    active = [[1, 1, 1], [1, 1, 0]]
    if agg == "grpo":
        seq = [sum(p * m for p, m in zip(per[i], active[i])) / sum(active[i]) for i in range(2)]
        return sum(seq) / 2
    return sum(p * m for i in range(2) for p, m in zip(per[i], active[i])) / 5


@pytest.mark.parametrize("agg", ["grpo", "dapo"])
def test_loss_without_kl(agg):
    # token (0,0): ρ=1.5, A>0 -> clipped at 1.2 (upper side); token (1,0): ρ=0.5, A<0 -> clipped at 0.8 (lower side)
    out = grpo_loss(LOGP, LOGP_OLD, ADV, MASK, aggregation=agg)
    assert out.loss.item() == pytest.approx(_hand(agg=agg), rel=1e-6)
    assert out.kl.item() == 0.0
    # clipped terms win at (0,0) [1.2 < 1.5] and (1,0) [−1.6 < −1.0]; (1,1) ρ=1.1 is inside; (1,2) is masked
    assert out.clip_fraction.item() == pytest.approx(2 / 5)


@pytest.mark.parametrize("agg", ["grpo", "dapo"])
def test_loss_with_kl(agg):
    ref_probs = [[1.0, 0.9, 0.7], [0.6, 1.0, 1.0]]
    ref = torch.log(torch.tensor(ref_probs))
    out = grpo_loss(LOGP, LOGP_OLD, ADV, MASK, beta=0.1, logp_ref=ref, aggregation=agg)
    hand_ref = [[math.log(p) for p in row] for row in ref_probs]
    assert out.loss.item() == pytest.approx(_hand(beta=0.1, ref=hand_ref, agg=agg), rel=1e-6)
    assert out.kl.item() > 0


def test_kl_is_zero_when_policy_equals_reference_and_needs_ref():
    out = grpo_loss(LOGP, LOGP_OLD, ADV, MASK, beta=0.5, logp_ref=LOGP.clone())
    assert out.kl.item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="needs reference"):
        grpo_loss(LOGP, LOGP_OLD, ADV, MASK, beta=0.5)


def test_gradient_flows_only_through_unclipped_tokens():
    logp = LOGP.clone().requires_grad_(True)
    grpo_loss(logp, LOGP_OLD, ADV, MASK).loss.backward()
    g = logp.grad
    assert g[0, 0] == 0 and g[1, 0] == 0  # clipped: no gradient
    assert g[1, 2] == 0  # masked
    assert g[0, 1] != 0 and g[1, 1] != 0
