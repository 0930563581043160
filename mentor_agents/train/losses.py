"""GRPO loss pieces as small pure functions over tensors (tested on fixed values).

Shapes: ``[batch, tokens]`` for per-token quantities; ``mask`` is the rollout's ``loss_mask`` (1 on
sampled tokens). Aggregation is MENTOR's "token-mean": the sum over every sampled token of the whole
batch divided by their count, so long and short responses weigh each token the same. With gradient
accumulation pass ``num_tokens`` = the whole batch's count so micro-batches add up to the same mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor, num_tokens: float | None = None) -> torch.Tensor:
    """Sum of ``values`` where ``mask`` is 1, divided by ``num_tokens`` (default: ``mask.sum()``)."""
    denom = mask.sum() if num_tokens is None else torch.as_tensor(num_tokens, dtype=values.dtype)
    return (values * mask).sum() / denom.clamp(min=1)


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-6) -> torch.Tensor:
    """GRPO advantages: each reward normalised by its group's mean and (unbiased) std.

    ``rewards`` is flat, groups contiguous (``[g0r0, g0r1, ..., g1r0, ...]``). A group of identical
    rewards gets advantage 0 (no signal); a group of one keeps its raw reward (as verl does).
    """
    grouped = rewards.float().view(-1, group_size)
    if group_size == 1:
        return grouped.flatten()
    mean = grouped.mean(dim=1, keepdim=True)
    std = grouped.std(dim=1, keepdim=True)
    return ((grouped - mean) / (std + eps)).flatten()


def clipped_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    clip: float = 0.2,
    dual_clip: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token PPO clipped surrogate (to minimise) and whether each token was clipped.

    ``advantages`` is per sequence ``[batch]`` (broadcast over tokens) or per token. ``dual_clip``
    (c > 1, verl's ``clip_ratio_c``) also bounds the loss of negative-advantage tokens by −c·A, so one
    token whose ratio exploded cannot dominate the batch.
    """
    if advantages.dim() == 1:
        advantages = advantages[:, None]
    advantages = advantages.expand_as(logprobs)
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    loss, was_clipped = torch.maximum(unclipped, clipped), (clipped > unclipped).float()
    if dual_clip is not None:
        bound = -advantages * dual_clip
        dual = (advantages < 0) & (loss > bound)
        loss = torch.where(dual, bound, loss)
        was_clipped = torch.maximum(was_clipped, dual.float())
    return loss, was_clipped


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token KL(policy || reference), Schulman's k3 estimator: exp(d) - d - 1 with d = ref - logp.

    Unbiased, always >= 0, and low-variance; clamped to [-10, 10] like verl's ``low_var_kl``.
    """
    delta = (ref_logprobs - logprobs).clamp(-20.0, 20.0)
    return (torch.exp(delta) - delta - 1.0).clamp(-10.0, 10.0)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Per-position entropy of softmax(logits) (over the last dim)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def token_logprobs(logits: torch.Tensor, token_ids: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(token_ids[:, t] | prefix) from logits aligned to the same positions, at ``temperature``."""
    scaled = logits.float() / (temperature if temperature > 0 else 1.0)
    return torch.log_softmax(scaled, dim=-1).gather(-1, token_ids[..., None])[..., 0]


@dataclass
class LossParts:
    """The GRPO loss and the parts that are logged.

    ``approx_kl`` is the token-mean of ``old − new`` log-probs (verl's ``ppo_kl``): 0 on the first
    update of a batch, growing as later mini-batches go off-policy; with ``clip_frac`` and the ratio
    range it shows whether the clip acts at all.
    """

    loss: torch.Tensor
    policy: torch.Tensor
    kl: torch.Tensor
    entropy: torch.Tensor
    clip_frac: torch.Tensor
    approx_kl: torch.Tensor
    ratio_min: torch.Tensor
    ratio_max: torch.Tensor


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    ref_logprobs: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
    clip: float = 0.2,
    kl_coef: float = 0.001,
    entropy_coef: float = 0.001,
    num_tokens: float | None = None,
    dual_clip: float | None = None,
) -> LossParts:
    """Clipped policy loss + ``kl_coef`` * KL to the reference - ``entropy_coef`` * entropy, token-mean."""
    mask = mask.float()
    per_token, clipped = clipped_policy_loss(logprobs, old_logprobs, advantages, clip, dual_clip)
    policy = masked_mean(per_token, mask, num_tokens)
    zero = policy.new_zeros(())
    kl = masked_mean(kl_k3(logprobs, ref_logprobs), mask, num_tokens) if ref_logprobs is not None else zero
    ent = masked_mean(entropy, mask, num_tokens) if entropy is not None else zero
    loss = policy + kl_coef * kl - entropy_coef * ent
    with torch.no_grad():
        log_ratio = logprobs.detach() - old_logprobs
        ratio = log_ratio.exp()
        sampled = mask > 0
        ratio_min = ratio[sampled].min() if sampled.any() else ratio.new_ones(())
        ratio_max = ratio[sampled].max() if sampled.any() else ratio.new_ones(())
        approx_kl = masked_mean(-log_ratio, mask, num_tokens)
    clip_frac = masked_mean(clipped, mask, num_tokens).detach()
    return LossParts(loss, policy.detach(), kl.detach(), ent.detach(), clip_frac, approx_kl, ratio_min, ratio_max)
