"""Prefill each distinct prompt on its own, then decode the rows together from one left-padded cache.

A batched prefill left-pads every prompt to the longest, and the model runs the padding too. Prompts that
share little and differ in length waste most of that work: BFCL's prompts carry each task's own function
docs and share little beyond the system prompt, so a batch of the grid's first 20 BFCL tasks (292 to 841 SmolLM2
tokens) ran 13,514 token positions for 8,300 real ones. Prefilling them apart took 33 s instead of 70 s on
the 2-core box (``benchmarks/test_bench_prefill.py``). Decoding still wants one batch (a decode step's cost is mostly
reading the weights, once for every row), so the rows' keys and values are copied into a left-padded
cache afterwards: the decode loop sees the cache, mask and positions a batched
prefill gives it, except that the padding's keys are zeros instead of the pad token's (masked out
either way).

Where prompts share a long prefix (a GRPO group, or Calculator's tool docs common to every task), the
shared-prefix prefill (``mentor_agents.shared_prefix``) runs that prefix once and is the cheaper one;
:func:`apart_is_cheaper` compares the token positions each way would run, with a margin for what else
the batched path saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch only where a model runs: the eval config imports PREFILL_MODES from here
    import torch

    from mentor_agents.shared_prefix import PrefixPlan

PREFILL_MODES = ("batched", "apart", "auto")
"""``batched``: one left-padded forward (with the shared-prefix plan when prompts share one); ``apart``: one
forward per distinct prompt; ``auto``: apart where :func:`apart_is_cheaper` says so, on a CPU."""

APART_MARGIN = 0.75
"""``auto`` prefills apart only below this share of the batched path's token positions. Apart gives up what
the batched path keeps besides positions: one forward instead of one per prompt, and, for rows sharing a
prefix (a GRPO group), a single copy of that prefix's keys and values while decoding. A group of identical
prompts runs nearly as many positions either way, and must stay batched."""


def batched_positions(prompts: Sequence[Sequence[int]], plan: PrefixPlan | None) -> int:
    """Token positions a batched prefill runs: the padded prefixes and padded suffixes, or the padded rows."""
    if plan is None:
        return len(prompts) * max(map(len, prompts))
    return len(plan.prefixes) * max(map(len, plan.prefixes)) + len(prompts) * max(map(len, plan.suffixes))


def apart_positions(prompts: Sequence[Sequence[int]]) -> int:
    """Token positions prefilling each distinct prompt alone runs (a repeated prompt runs once)."""
    return sum(len(p) for p in {tuple(p) for p in prompts})


def apart_is_cheaper(prompts: Sequence[Sequence[int]], plan: PrefixPlan | None) -> bool:
    """Whether apart runs under :data:`APART_MARGIN` of the batched path's positions. Counted for a CPU, where
    a forward's cost follows its positions; on a GPU a forward per prompt has a fixed cost of its own that
    this does not count (not measured there), so ``HFPolicy`` applies it on a CPU only."""
    return apart_positions(prompts) < APART_MARGIN * batched_positions(prompts, plan)


def supports_apart(model: Any) -> bool:
    """Whether every layer of the model's cache is a plain full-attention one (``DynamicLayer``), whose keys
    and values :func:`prefill_apart` can copy into a padded batch; not sliding windows (whose stored length is
    the window's, not the prompt's), layers sharing another layer's cache or recurrent states."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    try:
        cache = DynamicCache(config=model.config)
    except (TypeError, ValueError, AttributeError):
        return False
    layers = list(cache.layers)
    if not layers and cache.layer_class_to_replicate is not None:  # layers made on first use
        layers = [cache.layer_class_to_replicate()]
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def prefill_apart(
    model: Any, prompts: Sequence[Sequence[int]], pad_id: int, device: Any, cache: Any, model_kwargs: dict[str, Any]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run each distinct prompt alone and fill ``cache`` (an empty transformers cache) with every row's keys
    and values, left-padded to the longest prompt; return the last position's logits ``[rows, vocab]`` and
    the left-padded attention mask and positions ``[rows, width]``.

    ``model_kwargs`` go to every forward (``logits_to_keep=1``, say). Each prompt's own cache is dropped as
    soon as its layer is copied, so the peak is about the batch cache plus one layer's worth of copies.
    """
    import torch

    from mentor_agents.shared_prefix import cache_of, left_pad, positions_of

    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    distinct: dict[tuple[int, ...], int] = {}
    distinct_of_row = [distinct.setdefault(tuple(p), len(distinct)) for p in prompts]
    width = max(map(len, prompts))
    logits: list[torch.Tensor] = []
    own: list[list[tuple[torch.Tensor, torch.Tensor] | None]] = []
    for ids in distinct:
        out = model(input_ids=torch.tensor([ids], device=device), use_cache=True, **model_kwargs)
        logits.append(out.logits[0, -1].clone())  # not a view keeping [1, length, vocab] alive
        own.append([(layer.keys, layer.values) for layer in cache_of(out).layers])
        del out
    for depth in range(len(own[0])):
        first = own[0][depth]
        assert first is not None
        keys, values = first
        batch_keys = keys.new_zeros(len(prompts), keys.shape[1], width, keys.shape[3])
        batch_values = values.new_zeros(len(prompts), values.shape[1], width, values.shape[3])
        for row, index in enumerate(distinct_of_row):
            layer = own[index][depth]
            assert layer is not None
            k, v = layer
            batch_keys[row, :, width - k.shape[2] :] = k[0]
            batch_values[row, :, width - v.shape[2] :] = v[0]
        for prompt_layers in own:
            prompt_layers[depth] = None
        cache.update(batch_keys, batch_values, depth)
    _, mask = left_pad(prompts, pad_id, device)
    return torch.stack([logits[i] for i in distinct_of_row]), mask, positions_of(mask)
