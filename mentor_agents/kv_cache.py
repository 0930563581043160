"""A KV cache that grows in place: room for the tokens still to come is allocated up front.

transformers' ``DynamicCache`` appends each decoded token with ``torch.cat``, so every step copies every
row's whole cache in every layer; with long per-row contexts (BFCL prompts carry each task's own function
docs) that copy was the largest cost of a decode step on CPU. Here each layer keeps a buffer with
``reserve`` free positions and hands the model views of its filled part: appending writes one position,
and only running out of room (or dropping rows) copies. The model sees exactly what ``DynamicCache`` would
give it (the same tensors' values and shapes; tested token for token), unlike ``StaticCache``, whose
fixed length makes attention run over the empty positions too.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


class GrowingLayer(DynamicLayer):
    """One layer's keys and values as views ``[B, H, length, D]`` of buffers ``[B, H, capacity, D]``."""

    def __init__(self, reserve: int) -> None:
        super().__init__()
        self.reserve = reserve
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None
        self._length = 0

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        new = key_states.shape[-2]
        end = self._length + new
        if self._keys is None or end > self._keys.shape[-2]:
            self._reallocate(end + self.reserve, key_states, value_states)
        assert self._keys is not None and self._values is not None
        self._keys[:, :, self._length : end] = key_states
        self._values[:, :, self._length : end] = value_states
        self._length = end
        return self._expose()

    def _reallocate(self, capacity: int, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        """New buffers of ``capacity`` positions holding what is cached so far (the only copy on append)."""
        rows, heads, _, dim = key_states.shape
        keys = key_states.new_empty(rows, heads, capacity, dim)
        values = value_states.new_empty(rows, value_states.shape[1], capacity, value_states.shape[-1])
        if self._keys is not None and self._values is not None and self._length:
            keys[:, :, : self._length] = self._keys[:, :, : self._length]
            values[:, :, : self._length] = self._values[:, :, : self._length]
        self._keys, self._values = keys, values

    def _expose(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Point ``keys``/``values`` (what transformers reads) at the filled part of the buffers."""
        assert self._keys is not None and self._values is not None
        keys, values = self._keys[:, :, : self._length], self._values[:, :, : self._length]
        self.keys, self.values = keys, values
        return keys, values

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        """Keep (or repeat) the rows ``beam_idx``, with the room left to grow (one copy of the buffers)."""
        if self._keys is None or self._values is None:
            return
        self._keys = self._keys.index_select(0, beam_idx.to(self._keys.device))
        self._values = self._values.index_select(0, beam_idx.to(self._values.device))
        self._expose()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self.reorder_cache(indices)  # type: ignore[arg-type]

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self._keys is not None:
            rows = torch.arange(self._keys.shape[0], device=self._keys.device).repeat_interleave(repeats)
            self.reorder_cache(rows)  # type: ignore[arg-type]

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes the (negative) number of tokens to remove")
        if tokens_to_remove and self._keys is not None:
            self._length = max(0, self._length + tokens_to_remove)
            self._expose()

    def reset(self) -> None:
        self._keys = self._values = None
        self._length = 0
        super().reset()


class GrowingCache(DynamicCache):
    """``DynamicCache`` with :class:`GrowingLayer` layers: ``reserve`` positions of room after each (re)allocation
    (a decode loop passes the tokens it may still generate, so a turn allocates once)."""

    def __init__(self, config: Any, reserve: int) -> None:
        super().__init__(config=config)
        if any(type(layer) is not DynamicLayer for layer in self.layers):
            raise ValueError("GrowingCache supports full-attention layers only (no sliding windows)")
        self.layers = [GrowingLayer(reserve) for _ in self.layers]
        if self.layer_class_to_replicate is not None:  # layers made on first use (a config without layer types)
            self.layer_class_to_replicate = functools.partial(GrowingLayer, reserve)  # type: ignore[assignment]
