"""The growing KV cache holds, after any sequence of appends, row selections and crops, exactly what
transformers' dynamic cache holds, and appends in place while there is room."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from transformers.cache_utils import DynamicLayer  # noqa: E402

from mentor_agents.kv_cache import GrowingCache, GrowingLayer  # noqa: E402

operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 7)),
        st.tuples(st.just("select"), st.lists(st.integers(0, 99), min_size=1, max_size=5)),
        st.tuples(st.just("crop"), st.integers(1, 3)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(ops=operations, reserve=st.integers(0, 6), seed=st.integers(0, 2**16))
def test_any_sequence_of_updates_leaves_what_the_dynamic_cache_leaves(ops, reserve, seed):
    torch.manual_seed(seed)
    growing, dynamic = GrowingLayer(reserve), DynamicLayer()
    rows = 3
    for op, arg in [("append", 2), *ops]:
        if op == "append":
            keys, values = torch.randn(rows, 2, arg, 4), torch.randn(rows, 2, arg, 4)
            got = growing.update(keys, values)
            want = dynamic.update(keys, values)
            assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
        elif op == "select":
            index = torch.tensor([i % rows for i in arg])
            growing.reorder_cache(index)
            dynamic.reorder_cache(index)
            rows = len(arg)
        elif dynamic.get_seq_length() > arg:
            growing.crop(-arg)
            dynamic.crop(-arg)
        assert growing.get_seq_length() == dynamic.get_seq_length()
        assert torch.equal(growing.keys, dynamic.keys) and torch.equal(growing.values, dynamic.values)


def test_an_append_within_the_reserve_writes_in_place():
    layer = GrowingLayer(reserve=4)
    layer.update(torch.zeros(2, 1, 3, 2), torch.zeros(2, 1, 3, 2))
    buffer = layer.keys.untyped_storage().data_ptr()
    for _ in range(4):
        layer.update(torch.ones(2, 1, 1, 2), torch.ones(2, 1, 1, 2))
        assert layer.keys.untyped_storage().data_ptr() == buffer  # no new allocation, no copy
    layer.update(torch.ones(2, 1, 1, 2), torch.ones(2, 1, 1, 2))
    assert layer.keys.untyped_storage().data_ptr() != buffer and layer.get_seq_length() == 8


def test_the_cache_has_a_growing_layer_per_model_layer(tiny_model):
    cache = GrowingCache(tiny_model.config, reserve=8)
    assert len(cache.layers) == tiny_model.config.num_hidden_layers
    assert all(isinstance(layer, GrowingLayer) for layer in cache.layers)
    out = tiny_model(input_ids=torch.tensor([[1, 2, 3]]), cache=cache, use_cache=True)
    assert out.past_key_values is cache and cache.get_seq_length() == 3
