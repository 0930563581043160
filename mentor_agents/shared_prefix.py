"""Shared prefixes: rows that start with the same tokens run those tokens through the model once.

The G samples of one GRPO prompt share the whole prompt (about 1,200 SmolLM2 tokens on Calculator, most
of it tool schemas), and every task of one env shares its system prompt. Sampling and scoring them row by
row recomputes that prefix G times. Here the rows are sorted, cut into groups whose common prefix is at
least ``min_shared`` tokens, each group's prefix is run once (batch = number of groups), its KV cache is
expanded to the group's rows with ``index_select``, and only each row's own suffix is run on top of it.

The suffixes are left-padded, so the padding sits *between* prefix and suffix; the attention mask hides
it and position ids count real tokens only, so every row sees exactly its own tokens at their own
positions. The result equals a plain padded forward up to floating-point summation order (tested), and
gradients flow through the expanded cache back into the single prefix pass.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mentor_agents.train.common import autocast
from mentor_agents.train.losses import entropy_from_logits, token_logprobs

MIN_SHARED = 32
"""Fewest common tokens worth a separate prefix pass (below this the extra forward costs more than it saves)."""


@dataclass(frozen=True)
class PrefixPlan:
    """Which rows share which prefix: ``prefixes[g]`` is group g's, ``group_of_row[i]`` row i's group,
    ``suffixes[i]`` row i's tokens after its group's prefix (never empty)."""

    prefixes: list[list[int]]
    group_of_row: list[int]
    suffixes: list[list[int]]

    @property
    def saved_tokens(self) -> int:
        """Prefix tokens not recomputed thanks to sharing."""
        sizes = [len(p) for p in self.prefixes]
        return sum(sizes[g] for g in self.group_of_row) - sum(sizes)


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def plan_prefixes(
    rows: Sequence[Sequence[int]], limits: Sequence[int] | None = None, min_shared: int = MIN_SHARED
) -> PrefixPlan | None:
    """Group ``rows`` by common prefix; ``None`` when no two rows share ``min_shared`` tokens.

    ``limits[i]`` caps how many of row i's tokens may go into a prefix (default ``len - 1``: every row
    keeps at least one token of its own, whose logits are the ones a sampler needs). Sorting puts rows
    with long common prefixes next to each other, so a group is a run of neighbours whose adjacent common
    prefix stays at or above ``min_shared``; its prefix is the shortest of those (and of its limits).
    """
    if not rows or any(len(r) == 0 for r in rows):
        raise ValueError("every row needs at least one token")
    caps = (
        [len(r) - 1 for r in rows]
        if limits is None
        else [min(c, len(r) - 1) for c, r in zip(limits, rows, strict=True)]
    )
    order = sorted(range(len(rows)), key=lambda i: tuple(rows[i]))
    runs: list[list[int]] = []
    lengths: list[int] = []
    for i in order:
        if runs:
            shared = min(lengths[-1], common_prefix_len(rows[runs[-1][-1]], rows[i]), caps[i])
            if shared >= min_shared:
                runs[-1].append(i)
                lengths[-1] = shared
                continue
        runs.append([i])
        lengths.append(caps[i])
    if len(runs) == len(rows):
        return None
    group_of_row = [0] * len(rows)
    prefixes, suffixes = [], [list(r) for r in rows]
    for g, (run, length) in enumerate(zip(runs, lengths, strict=True)):
        length = max(length, 0)
        prefixes.append(list(rows[run[0]][:length]))
        for i in run:
            group_of_row[i] = g
            suffixes[i] = list(rows[i][length:])
    if any(not p for p in prefixes):  # a run of rows with nothing in common within their caps
        return None
    return PrefixPlan(prefixes, group_of_row, suffixes)


def model_call_kwargs(model: Any) -> tuple[str, str | None]:
    """(the forward's KV-cache keyword, its keep-only-the-last-logits keyword or None).

    transformers 5 renamed ``past_key_values`` to ``cache`` on some models, and ``num_logits_to_keep``
    became ``logits_to_keep``; a peft wrapper shows neither (it passes ``**kwargs`` through).
    """
    params = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    keep = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
    return cache_kw, keep


def left_pad(rows: Sequence[Sequence[int]], pad_id: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask), rows padded on the left to the longest."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad_id] * (width - len(r)) + list(r) for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return ids, mask


def positions_of(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that count real tokens only (padding anywhere in the row is skipped)."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def cache_of(out: Any) -> Any:
    return out["cache"] if "cache" in out else out["past_key_values"]


@dataclass
class SharedForward:
    """What the two passes leave: ``last_prefix_logits`` ``[rows, vocab]`` (row i's group's prefix's last
    position, predicting ``suffixes[i][0]``), the suffix pass's output (logits over the suffix width,
    left-padded; its cache holds every row's full context), the full attention mask and the suffix's
    position ids."""

    last_prefix_logits: torch.Tensor
    out: Any
    mask: torch.Tensor
    positions: torch.Tensor


def forward_shared(
    model: Any,
    plan: PrefixPlan,
    pad_id: int,
    device: Any,
    keep_last_suffix_logit: bool = False,
    cache: Any = None,
) -> SharedForward:
    """Run each group's prefix once, expand its cache to the group's rows, then run the suffixes on top.

    ``cache``: an empty cache to fill (e.g. a ``StaticCache`` sized for prefix + suffix + what a sampler
    will add); None: the model's default."""
    cache_kw, keep = model_call_kwargs(model)
    keep_last = {keep: 1} if keep else {}
    prefix_ids, prefix_mask = left_pad(plan.prefixes, pad_id, device)
    prefix_out = model(
        input_ids=prefix_ids, attention_mask=prefix_mask, position_ids=positions_of(prefix_mask),
        use_cache=True, **keep_last, **({cache_kw: cache} if cache is not None else {}),
    )  # fmt: skip
    rows = torch.tensor(plan.group_of_row, device=device)
    cache = cache_of(prefix_out)
    cache.reorder_cache(rows)  # index_select along the batch: one prefix cache per row, differentiable
    suffix_ids, suffix_mask = left_pad(plan.suffixes, pad_id, device)
    mask = torch.cat([prefix_mask[rows], suffix_mask], dim=1)
    positions = positions_of(mask)[:, prefix_ids.shape[1] :]
    out = model(
        input_ids=suffix_ids, attention_mask=mask, position_ids=positions, use_cache=True,
        **{cache_kw: cache}, **(keep_last if keep_last_suffix_logit else {}),
    )  # fmt: skip
    return SharedForward(prefix_out.logits[:, -1][rows], out, mask, positions)


def first_trainable(loss_mask: Sequence[int]) -> int:
    """Index of the first token with gradient (``len`` when none): a scoring prefix must stop there,
    because the logits of positions inside a prefix are never computed."""
    return next((i for i, m in enumerate(loss_mask) if m), len(loss_mask))


def score_rows(
    model: Any,
    rows: Sequence[Sequence[int]],
    loss_masks: Sequence[Sequence[int]],
    temperature: float = 1.0,
    entropy: bool = False,
    precision: str = "auto",
    min_shared: int = MIN_SHARED,
) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """``score_tokens`` for rows sharing prefixes: log-probs ``[B, T_max - 1]`` right-padded, position t
    scoring token t + 1; ``None`` when no prefix is shared (score them the plain way).

    Positions inside a shared prefix are not computed and hold 0: the prefix ends before each row's first
    trainable token, so only positions that ``loss_mask[1:]`` zeroes out are affected.
    """
    limits = [first_trainable(m) for m in loss_masks]
    plan = plan_prefixes(rows, limits, min_shared)
    if plan is None:
        return None
    device = next(model.parameters()).device
    scale = temperature if temperature > 0 else 1.0
    with autocast(device, precision):
        shared = forward_shared(model, plan, pad_id=0, device=device)
    width = shared.out.logits.shape[1]
    logps: list[torch.Tensor] = []
    ents: list[torch.Tensor] = []
    for i, suffix in enumerate(plan.suffixes):
        n = len(suffix)
        # logits predicting suffix[0] (end of the prefix) and suffix[1:] (inside the suffix)
        logits = torch.cat([shared.last_prefix_logits[i][None], shared.out.logits[i, width - n : width - 1]])
        targets = torch.tensor(suffix, device=device)
        skipped = len(plan.prefixes[plan.group_of_row[i]]) - 1
        zeros = logits.new_zeros(skipped, dtype=torch.float32)
        logps.append(torch.cat([zeros, token_logprobs(logits, targets, temperature)]))
        if entropy:
            ents.append(torch.cat([zeros, entropy_from_logits(logits / scale)]))

    def pad(values: list[torch.Tensor]) -> torch.Tensor:
        return torch.nn.utils.rnn.pad_sequence(values, batch_first=True, padding_value=0.0)

    return pad(logps), (pad(ents) if entropy else None)
