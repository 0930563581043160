"""Prefill each distinct prompt on its own, then decode the rows together from one left-padded cache.

A batched prefill left-pads every prompt to the longest, and the model runs the padding too. Prompts that
share little and differ in length waste most of that work: BFCL's prompts carry each task's own function
docs (287 to 2,193 SmolLM2 tokens in the grid's sample), so a batch of its first 20 tasks ran 16,820 token
positions for 8,300 real ones. Prefilling them apart took 33 s instead of 70 s on the 2-core box
(``benchmarks/test_bench_prefill.py``). Decoding still wants one batch (a decode step's cost is mostly
reading the weights, once for every row), so the rows' keys and values are copied into a left-padded
cache afterwards: the decode loop sees the cache, mask and positions a batched
prefill gives it, except that the padding's keys are zeros instead of the pad token's (masked out
either way).

Where prompts share a long prefix (a GRPO group, or Calculator's tool docs common to every task), the
shared-prefix prefill (``mentor_agents.shared_prefix``) runs that prefix once and is the cheaper one;
:func:`apart_is_cheaper` compares the token positions each way would run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch only where a model runs: the eval config imports PREFILL_MODES from here
    import torch

    from mentor_agents.shared_prefix import PrefixPlan

PREFILL_MODES = ("batched", "apart", "auto")
"""``batched``: one left-padded forward (with the shared-prefix plan when prompts share one); ``apart``: one
forward per distinct prompt; ``auto``: whichever runs fewer token positions (:func:`apart_is_cheaper`)."""


def batched_positions(prompts: Sequence[Sequence[int]], plan: PrefixPlan | None) -> int:
    """Token positions a batched prefill runs: the padded prefixes and padded suffixes, or the padded rows."""
    if plan is None:
        return len(prompts) * max(map(len, prompts))
    return len(plan.prefixes) * max(map(len, plan.prefixes)) + len(prompts) * max(map(len, plan.suffixes))


def apart_positions(prompts: Sequence[Sequence[int]]) -> int:
    """Token positions prefilling each distinct prompt alone runs (a repeated prompt runs once)."""
    return sum(len(p) for p in {tuple(p) for p in prompts})


def apart_is_cheaper(prompts: Sequence[Sequence[int]], plan: PrefixPlan | None) -> bool:
    return apart_positions(prompts) < batched_positions(prompts, plan)


def prefill_apart(
    model: Any, prompts: Sequence[Sequence[int]], pad_id: int, device: Any, cache: Any, model_kwargs: dict[str, Any]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Any]:
    """Run each distinct prompt alone; return the last position's logits ``[rows, vocab]``, the left-padded
    attention mask and positions ``[rows, width]``, and ``cache`` (empty on entry: a transformers cache)
    filled with every row's keys and values, left-padded to the longest prompt.

    ``model_kwargs`` go to every forward (``logits_to_keep=1``, say).
    """
    import torch

    from mentor_agents.shared_prefix import cache_of, left_pad, positions_of

    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    index: dict[tuple[int, ...], int] = {}
    source = [index.setdefault(tuple(p), len(index)) for p in prompts]
    width = max(map(len, prompts))
    logits: list[torch.Tensor] = []
    layers: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
    for ids in index:
        out = model(input_ids=torch.tensor([ids], device=device), use_cache=True, **model_kwargs)
        logits.append(out.logits[0, -1])
        layers.append([(layer.keys, layer.values) for layer in cache_of(out).layers])
    for depth in range(len(layers[0])):
        keys, values = layers[0][depth]
        heads, dim = keys.shape[1], keys.shape[3]
        batch_keys = keys.new_zeros(len(prompts), heads, width, dim)
        batch_values = values.new_zeros(len(prompts), values.shape[1], width, values.shape[3])
        for row, u in enumerate(source):
            k, v = layers[u][depth]
            batch_keys[row, :, width - k.shape[2] :] = k[0]
            batch_values[row, :, width - v.shape[2] :] = v[0]
        cache.update(batch_keys, batch_values, depth)
    _, mask = left_pad(prompts, pad_id, device)
    return torch.stack([logits[u] for u in source]), mask, positions_of(mask), cache
