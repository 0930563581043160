"""Small pieces both trainers share: batching token lists, scoring them, optimizer and schedule."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from mentor_agents.train.losses import entropy_from_logits, token_logprobs
from mentor_agents.train.precision import resolve_precision


def pad_right(rows: Sequence[Sequence[float]], value: float, dtype: torch.dtype, device: Any) -> torch.Tensor:
    """A ``[len(rows), longest]`` tensor, each row padded on the right with ``value``."""
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [value] * (width - len(r)) for r in rows], dtype=dtype, device=device)


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """The autocast ``precision`` asks for on ``device`` (``precision.resolve_precision``): by default bf16
    on a GPU and a no-op on CPU. Weights stay fp32 (master weights, so lr 1e-6 updates are not rounded away)."""
    dtype = resolve_precision(precision, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (0: leave the count alone), then restore it.

    Rollouts are generated under a fixed count because CPU kernels split reductions by thread count:
    the same count in-process and in Ray actors gives bit-identical tokens and log-probs.
    """
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def score_tokens(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    temperature: float = 1.0,
    entropy: bool = False,
    precision: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-prob of each token given its prefix (and optionally the entropy there), shape ``[B, T-1]``, fp32.

    Position ``t`` scores ``input_ids[:, t + 1]``, so the loss mask is ``loss_mask[:, 1:]``. The forward
    pass runs under ``autocast(device, precision)``; log-probs and entropy are computed in fp32 from its
    logits (bf16 under bf16 autocast).
    """
    with autocast(input_ids.device, precision):
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]
    logp = token_logprobs(logits, input_ids[:, 1:], temperature)
    ent = entropy_from_logits(logits / (temperature if temperature > 0 else 1.0)) if entropy else None
    return logp, ent


def make_optimizer(model: Any, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, warmup_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup to the constant learning rate (MENTOR/verl use a constant lr)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / max(1, warmup_steps)))
