"""GRPO loss pieces against hand-computed values."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from mentor_agents.train.losses import (  # noqa: E402
    clipped_policy_loss,
    entropy_from_logits,
    group_advantages,
    grpo_loss,
    kl_k3,
    masked_mean,
    token_logprobs,
)


def test_group_advantages_mean_std_per_group():
    adv = group_advantages(torch.tensor([1.0, 0.0, 0.5, 0.5, 1.1, 0.1, 0.1, 0.1]), group_size=4)
    # group 1: mean .5, unbiased std sqrt(.5/3); group 2: mean .35, std sqrt(.75/3) = .5
    s1 = math.sqrt(0.5 / 3)
    expected = [0.5 / s1, -0.5 / s1, 0.0, 0.0, 0.75 / 0.5, -0.25 / 0.5, -0.25 / 0.5, -0.25 / 0.5]
    assert adv.tolist() == pytest.approx(expected, rel=1e-4)


def test_identical_rewards_give_zero_advantage():
    assert group_advantages(torch.full((6,), 0.1), group_size=3).abs().max() < 1e-4


def test_clipped_policy_loss_hand_values():
    old = torch.zeros(1, 3)
    new = torch.log(torch.tensor([[1.5, 0.5, 0.9]]))
    adv = torch.tensor([[1.0, -1.0, 1.0]])
    per_token, clipped = clipped_policy_loss(new, old, adv, clip=0.2)
    # ratio 1.5, A=+1: max(-1.5, -1.2) = -1.2 (clipped); ratio .5, A=-1: max(.5, .8) = .8 (clipped); .9: -.9
    assert per_token[0].tolist() == pytest.approx([-1.2, 0.8, -0.9])
    assert clipped.tolist() == [[1.0, 1.0, 0.0]]


def test_kl_k3_hand_value_and_zero_at_equality():
    logp = torch.tensor([0.0, -1.0])
    ref = torch.tensor([math.log(0.5), -1.0])
    assert kl_k3(logp, ref).tolist() == pytest.approx([0.5 + math.log(2) - 1, 0.0], abs=1e-6)


def test_entropy_of_uniform_is_log_n():
    assert entropy_from_logits(torch.zeros(2, 4)).tolist() == pytest.approx([math.log(4)] * 2)


def test_token_logprobs_with_temperature():
    logits = torch.tensor([[[0.0, math.log(3.0)]]])
    assert token_logprobs(logits, torch.tensor([[1]])).item() == pytest.approx(math.log(0.75))
    # temperature 2 halves the logits: p = sqrt(3) / (1 + sqrt(3))
    t2 = token_logprobs(logits, torch.tensor([[1]]), temperature=2.0).item()
    assert t2 == pytest.approx(math.log(math.sqrt(3) / (1 + math.sqrt(3))))


def test_masked_mean_is_token_mean_over_the_batch():
    values = torch.tensor([[1.0, 2.0, 100.0], [3.0, 100.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert masked_mean(values, mask).item() == pytest.approx(2.0)
    assert masked_mean(values, mask, num_tokens=6).item() == pytest.approx(1.0)


def test_grpo_loss_combines_parts():
    old = torch.zeros(1, 2)
    logp = torch.tensor([[math.log(1.1), 0.0]])
    ref = torch.tensor([[math.log(0.5) + math.log(1.1), 0.0]])
    entropy = torch.tensor([[2.0, 4.0]])
    mask = torch.tensor([[1.0, 1.0]])
    parts = grpo_loss(logp, old, torch.tensor([2.0]), mask, ref, entropy, kl_coef=0.1, entropy_coef=0.01)
    policy = (-2.0 * 1.1 - 2.0) / 2
    kl = (0.5 + math.log(2) - 1) / 2
    assert parts.policy.item() == pytest.approx(policy)
    assert parts.kl.item() == pytest.approx(kl, abs=1e-6)
    assert parts.entropy.item() == pytest.approx(3.0)
    assert parts.loss.item() == pytest.approx(policy + 0.1 * kl - 0.01 * 3.0, abs=1e-6)


def test_masked_tokens_get_no_gradient():
    logp = torch.zeros(1, 4, requires_grad=True)
    mask = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    grpo_loss(logp, torch.zeros(1, 4), torch.tensor([1.0]), mask, torch.zeros(1, 4)).loss.backward()
    assert logp.grad[0, 1] == 0 and logp.grad[0, 3] == 0
    assert logp.grad[0, 0] != 0 and logp.grad[0, 2] != 0


def test_dual_clip_bounds_the_loss_of_negative_advantage_tokens():
    from mentor_agents.train.losses import clipped_policy_loss

    logp = torch.log(torch.tensor([[5.0, 5.0, 1.0]]))  # ratios 5, 5, 1 against old log-prob 0
    old = torch.zeros(1, 3)
    adv = torch.tensor([[-1.0, 1.0, -1.0]])
    plain, _ = clipped_policy_loss(logp, old, adv, clip=0.2)
    dual, clipped = clipped_policy_loss(logp, old, adv, clip=0.2, dual_clip=3.0)
    assert plain[0].tolist() == pytest.approx([5.0, -1.2, 1.0])
    assert dual[0].tolist() == pytest.approx([3.0, -1.2, 1.0])  # only the exploded negative-advantage token
    assert clipped[0].tolist() == [1.0, 1.0, 0.0]
