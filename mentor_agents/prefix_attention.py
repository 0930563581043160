"""Decoding on a shared prefix without copying it: attention split into a prefix part and a per-row part.

``shared_prefix.forward_shared`` runs a prefix common to several rows once, then *copies* its KV cache to
every row. That is right for a single forward, but a decode loop then drags the copies along: each step
transformers' dynamic cache concatenates one position onto every row's full cache, so a step costs a copy
of rows x (prefix + suffix) keys and values in every layer. With 32 SmolLM2 rows on a 1,200-token
Calculator prompt that copy was the largest single cost of a decode step on CPU.

Here the prefix keys and values stay one copy per group (``PrefixKV``); the model's own cache holds only
each row's suffix. A registered attention function (``prefix_attention``) scores a row's queries against
its group's prefix keys (a broadcast matmul, no copy) and against its own suffix keys, and takes one
softmax over both: the same attention as over the concatenated keys, up to float rounding (tested against
the plain path). This is cascade attention (as in FlashInfer) in plain torch.

Only decoder layers whose attention goes through ``ALL_ATTENTION_FUNCTIONS`` with a standard KV cache are
supported (Llama, Qwen2, Mistral and the like; ``supports_prefix_attention`` checks the model type), and
no sliding windows or logit soft-capping.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

NAME = "shared_prefix_cascade"
"""The attention implementation's name in transformers' registry."""

SUPPORTED_MODEL_TYPES = ("llama", "qwen2", "mistral")
"""Architectures whose attention calls the registered function with (queries, keys, values, mask, scaling)
and no sliding window by default; others decode the plain way."""

PREFILL_QUERIES = 8
"""Above this many queries a row, attention runs as SDPA over the prefix expanded to the group's rows (a
prefill); at or below it, as two matmuls against the single prefix copy (a decode step)."""

SCORE_BUDGET = 1 << 24
"""Score elements materialised at once (64 MB in fp32): the suffix prefill runs rows in chunks below it."""


def supports_prefix_attention(model: Any) -> bool:
    """True when the model's architecture is one this module was checked on and it uses no sliding window."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) not in SUPPORTED_MODEL_TYPES:
        return False
    windowed = getattr(config, "use_sliding_window", False) or (
        config.model_type == "mistral" and getattr(config, "sliding_window", None)
    )
    return not windowed and getattr(config, "attn_logit_softcapping", None) is None


@dataclass
class PrefixKV:
    """Each group's prefix keys and values per layer (``keys[layer][g]``: ``[kv_heads, P_g, head_dim]``) and
    which group each row belongs to. Rows can be dropped (``keep_rows``) as they finish."""

    keys: list[list[torch.Tensor]]
    values: list[list[torch.Tensor]]
    group_of_row: torch.Tensor

    @classmethod
    def from_cache(cls, cache: Any, prefix_lengths: Sequence[int], group_of_row: Sequence[int]) -> PrefixKV:
        """Take a prefix pass's cache (groups left-padded to the longest prefix) and keep each group's real
        positions: one copy per group, never per row."""
        keys, values = [], []
        for layer in cache.layers:
            width = layer.keys.shape[2]
            # contiguous per group (one small copy now) so every decode step's batched matmul reads it in place
            keys.append([layer.keys[g, :, width - n :].contiguous() for g, n in enumerate(prefix_lengths)])
            values.append([layer.values[g, :, width - n :].contiguous() for g, n in enumerate(prefix_lengths)])
        device = cache.layers[0].keys.device
        return cls(keys, values, torch.tensor(list(group_of_row), device=device))

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Follow the suffix cache when it keeps only ``rows`` (in that order)."""
        self.group_of_row = self.group_of_row[rows]

    def attend(
        self,
        layer: int,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None,
        scaling: float,
    ) -> torch.Tensor:
        """Attention of ``query [B, H, Q, D]`` over each row's prefix and its suffix ``key/value [B, Hkv, S, D]``;
        returns ``[B, Q, H, D]`` as transformers' attention functions do."""
        rows, heads, q_len, dim = query.shape
        kv_heads, s_len = key.shape[1], key.shape[2]
        rep = heads // kv_heads
        if q_len > PREFILL_QUERIES:
            return self._attend_prefill(
                layer, query, key, value, suffix_keep(mask, rows, q_len, s_len, query.device), scaling
            )
        # heads h = kv * rep + r share kv head kv: fold the rep query heads into the query axis (no key copies)
        grouped = query.reshape(rows, kv_heads, rep * q_len, dim)
        keep = suffix_keep(mask, rows, q_len, s_len, query.device)  # [B, 1, Q, S] bool
        keep = keep[:, :, None].expand(rows, 1, rep, q_len, s_len).reshape(rows, 1, rep * q_len, s_len)
        out: torch.Tensor | None = None  # in the matmuls' dtype (bf16 under autocast)
        for g in self.group_of_row.unique().tolist():
            members = (self.group_of_row == g).nonzero()[:, 0]
            p_keys, p_values = self.keys[layer][g], self.values[layer][g]
            p_len = p_keys.shape[1]
            step = max(1, SCORE_BUDGET // (kv_heads * rep * q_len * (p_len + s_len)))
            for start in range(0, len(members), step):
                part = _as_slice(members[start : start + step])
                q = grouped[part]
                scores = torch.cat([_prefix_matmul(q, p_keys.transpose(-1, -2)), torch.matmul(q, key[part].mT)], -1)
                scores = scores.float() * scaling
                scores[..., p_len:].masked_fill_(~keep[part], float("-inf"))
                probs = scores.softmax(-1).to(value.dtype)
                part_out = _prefix_matmul(probs[..., :p_len], p_values) + torch.matmul(probs[..., p_len:], value[part])
                if out is None:
                    out = part_out.new_empty(rows, kv_heads, rep * q_len, dim)
                out[part] = part_out
        assert out is not None
        return out.reshape(rows, heads, q_len, dim).transpose(1, 2).contiguous()

    def _attend_prefill(
        self,
        layer: int,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        keep: torch.Tensor,
        scaling: float,
    ) -> torch.Tensor:
        """Many queries a row (the suffix prefill): each group's prefix is expanded to its rows once and SDPA's
        fused kernel runs over prefix + suffix. Scores materialised for a long suffix would cost more than
        that one copy, which the decode steps (one query a row) never pay."""
        out = torch.empty_like(query)
        for g in self.group_of_row.unique().tolist():
            part = _as_slice((self.group_of_row == g).nonzero()[:, 0])
            rows = query[part].shape[0]
            p_keys, p_values = self.keys[layer][g], self.values[layer][g]
            keys = torch.cat([p_keys.expand(rows, -1, -1, -1), key[part]], 2)
            values = torch.cat([p_values.expand(rows, -1, -1, -1), value[part]], 2)
            visible = torch.cat([keep.new_ones(rows, 1, query.shape[2], p_keys.shape[1]), keep[part]], -1)
            result = torch.nn.functional.scaled_dot_product_attention(
                query[part], keys.to(query.dtype), values.to(query.dtype), attn_mask=visible, scale=scaling,
                enable_gqa=True,
            )  # fmt: skip
            out = out.to(result.dtype)
            out[part] = result
        return out.transpose(1, 2).contiguous()


def _prefix_matmul(rows: torch.Tensor, shared: torch.Tensor) -> torch.Tensor:
    """``rows [n, Hkv, M, K] @ shared [Hkv, K, N]`` -> ``[n, Hkv, M, N]`` as one batched matmul over the KV heads
    with the rows folded into M. (``torch.matmul`` would broadcast ``shared`` to every row by expanding and
    copying it: the very copy of the prefix this module exists to avoid.)"""
    n, heads, m, k = rows.shape
    folded = rows.transpose(0, 1).reshape(heads, n * m, k)
    return torch.bmm(folded, shared).reshape(heads, n, m, -1).transpose(0, 1)


def _as_slice(index: torch.Tensor) -> torch.Tensor | slice:
    """A run of consecutive rows as a slice (a view), anything else as the index (a gather copy)."""
    first, count = int(index[0]), len(index)
    if int(index[-1]) - first == count - 1 and bool((index.diff() == 1).all()):
        return slice(first, first + count)
    return index


def suffix_keep(mask: torch.Tensor | None, rows: int, q_len: int, s_len: int, device: Any) -> torch.Tensor:
    """Which suffix keys each query may see, ``[B, 1, Q, S]`` bool, from the mask transformers built (bool or
    additive float) or, where it skipped building one (no padding), the causal rule."""
    if mask is None:
        offset = s_len - q_len
        causal = torch.arange(s_len, device=device)[None] <= torch.arange(q_len, device=device)[:, None] + offset
        return causal[None, None].expand(rows, 1, q_len, s_len)
    mask = mask[..., -s_len:]
    keep = mask if mask.dtype == torch.bool else mask == 0
    return keep.expand(rows, 1, q_len, s_len)


def prefix_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    shared_prefix: PrefixKV | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """The registered attention function: cascade attention when the forward call carries ``shared_prefix``,
    transformers' SDPA attention otherwise."""
    if shared_prefix is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    if dropout and module.training:
        raise ValueError("prefix attention is for sampling: call it with the model in eval mode")
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    return shared_prefix.attend(module.layer_idx, query, key, value, attention_mask, scale), None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, prefix_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)


_switch_lock = threading.Lock()
_users: dict[int, tuple[int, Any]] = {}
"""Per model config (by id): how many decode loops have prefix attention on, and the implementation to restore."""


@contextlib.contextmanager
def prefix_attention_enabled(model: Any) -> Iterator[None]:
    """Route the model's attention through ``prefix_attention`` for the duration (restored after, also on error).

    Counted per model: threads decoding with one model at once (a server answering requests in parallel)
    switch it on with the first and back with the last, never under each other's feet."""
    _register()
    config = model.config
    with _switch_lock:
        count, before = _users.get(id(config), (0, config._attn_implementation))
        _users[id(config)] = (count + 1, before)
        config._attn_implementation = NAME
    try:
        yield
    finally:
        with _switch_lock:
            count, before = _users.pop(id(config))
            if count > 1:
                _users[id(config)] = (count - 1, before)
            else:
                config._attn_implementation = before
