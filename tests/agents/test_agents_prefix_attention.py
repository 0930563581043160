"""Decoding on one copy of a shared prefix (cascade attention) gives the attention, tokens and log-probs of
the plain path where every row carries its own copy of the prefix."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from mentor_agents import prefix_attention  # noqa: E402
from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.prefix_attention import PrefixKV, supports_prefix_attention  # noqa: E402


def _reference(query, prefix_keys, prefix_values, group_of_row, key, value, keep, scaling):
    """Plain attention over each row's prefix + suffix keys, concatenated, with GQA heads repeated."""
    rows, heads, _, _ = query.shape
    rep = heads // key.shape[1]
    out = []
    for i in range(rows):
        g = group_of_row[i]
        k = torch.cat([prefix_keys[g], key[i]], 1).repeat_interleave(rep, 0)  # [H, P + S, D]
        v = torch.cat([prefix_values[g], value[i]], 1).repeat_interleave(rep, 0)
        scores = query[i] @ k.transpose(-1, -2) * scaling  # [H, Q, P + S]
        visible = torch.cat([torch.ones(keep.shape[2], prefix_keys[g].shape[1], dtype=torch.bool), keep[i, 0]], -1)
        scores = scores.masked_fill(~visible, float("-inf"))
        out.append((scores.softmax(-1) @ v).transpose(0, 1))  # [Q, H, D]
    return torch.stack(out)


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(st.integers(1, 9), min_size=1, max_size=3),
    rows=st.integers(1, 6),
    kv_heads=st.sampled_from([1, 3]),
    rep=st.sampled_from([1, 3]),
    q_len=st.integers(1, 12),  # above PREFILL_QUERIES: the fused prefill path
    extra=st.integers(0, 3),
    seed=st.integers(0, 2**16),
    small_budget=st.booleans(),
)
def test_attention_over_a_shared_prefix_equals_attention_over_the_concatenated_keys(
    groups, rows, kv_heads, rep, q_len, extra, seed, small_budget
):
    torch.manual_seed(seed)
    dim, s_len = 8, q_len + extra
    group_of_row = torch.randint(0, len(groups), (rows,))
    prefix_keys = [torch.randn(kv_heads, n, dim) for n in groups]
    prefix_values = [torch.randn(kv_heads, n, dim) for n in groups]
    query = torch.randn(rows, kv_heads * rep, q_len, dim)
    key, value = torch.randn(rows, kv_heads, s_len, dim), torch.randn(rows, kv_heads, s_len, dim)
    # causal over the suffix, and each row hides a random amount of left padding (never its own query)
    pads = torch.randint(0, extra + 1, (rows,))
    causal = prefix_attention.suffix_keep(None, rows, q_len, s_len, "cpu")
    keep = causal & (torch.arange(s_len)[None, None, None] >= pads[:, None, None, None])
    layer = PrefixKV([prefix_keys], [prefix_values], group_of_row)
    budget = 1 if small_budget else prefix_attention.SCORE_BUDGET  # 1: every row in its own chunk
    old, prefix_attention.SCORE_BUDGET = prefix_attention.SCORE_BUDGET, budget
    try:
        got = layer.attend(0, query, key, value, keep, 0.35)
    finally:
        prefix_attention.SCORE_BUDGET = old
    want = _reference(query, prefix_keys, prefix_values, group_of_row.tolist(), key, value, keep, 0.35)
    assert torch.allclose(got, want, atol=1e-5)


def test_an_additive_float_mask_and_a_missing_mask_read_as_the_bool_mask_they_stand_for():
    keep = torch.tensor([[[[False, True, True]]]])
    additive = torch.zeros(1, 1, 1, 3).masked_fill(~keep, torch.finfo(torch.float32).min)
    assert torch.equal(prefix_attention.suffix_keep(additive, 1, 1, 3, "cpu"), keep)
    causal = prefix_attention.suffix_keep(None, 2, 2, 3, "cpu")
    assert causal.shape == (2, 1, 2, 3)
    assert causal[0, 0].tolist() == [[True, True, False], [True, True, True]]


@pytest.fixture(scope="module")
def prompts(tokenizer):
    from mentor_agents.shared_prefix import first_trainable
    from mentor_agents.teachers import OracleTeacher, conversation_ids

    teacher = OracleTeacher()
    convs = teacher.conversations([task.id for task in teacher.env.unwrapped.tasks[:3]])
    teacher.env.close()
    ids = [conversation_ids(tokenizer, c.messages, c.tools) for c in convs]
    rows = [row[: first_trainable(mask)] for row, mask in ids]
    return [rows[0]] * 3 + rows[1:]  # a GRPO group beside rows that share only the system prompt


def test_greedy_decoding_on_a_shared_prefix_kv_equals_the_plain_path(tokenizer, gqa_model, prompts, monkeypatch):
    calls = []
    attend = PrefixKV.attend
    monkeypatch.setattr(PrefixKV, "attend", lambda self, *a: calls.append(a[1].shape) or attend(self, *a))
    greedy = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=10)
    shared = HFPolicy(gqa_model, tokenizer, prefix_kv="shared").generate(prompts, greedy)
    assert calls, "the prefix attention was not used"
    assert max(shape[2] for shape in calls) > 1 and min(shape[2] for shape in calls) == 1  # prefill and decode
    assert gqa_model.config._attn_implementation != prefix_attention.NAME  # restored after decoding
    plain = HFPolicy(gqa_model, tokenizer, share_prefix=False).generate(prompts, greedy)
    assert [g.token_ids for g in shared] == [g.token_ids for g in plain]
    assert len({tuple(g.token_ids) for g in plain}) == 3  # the group's rows alike, the other two their own
    for a, b in zip(shared, plain, strict=True):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)


def test_sampling_on_a_shared_prefix_kv_draws_the_plain_paths_tokens(tokenizer, gqa_model, prompts):
    sampling = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=8, seed=11)
    shared = HFPolicy(gqa_model, tokenizer, prefix_kv="shared").generate(prompts, sampling)
    copied = HFPolicy(gqa_model, tokenizer, prefix_kv="copied").generate(prompts, sampling)
    assert [g.token_ids for g in shared] == [g.token_ids for g in copied]


def test_models_it_was_not_checked_on_decode_the_plain_way(gqa_model):
    assert supports_prefix_attention(gqa_model)
    other = type("Cfg", (), {"model_type": "gpt2"})()
    assert not supports_prefix_attention(type("M", (), {"config": other})())
    windowed = type("Cfg", (), {"model_type": "qwen2", "use_sliding_window": True})()
    assert not supports_prefix_attention(type("M", (), {"config": windowed})())


@pytest.mark.parametrize("prefix_kv", ["shared", "copied"])
def test_finished_rows_leave_the_batch_without_changing_what_the_others_generate(
    tokenizer, gqa_model, prompts, monkeypatch, prefix_kv
):
    from mentor_agents.policies import hf

    greedy = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=12)
    policy = HFPolicy(gqa_model, tokenizer, prefix_kv=prefix_kv)
    policy.stop_ids = set()
    free = policy.generate(prompts, greedy)
    # stop tokens that end rows 1 and 4 early (at their 3rd and 6th token), while the others run on
    policy.stop_ids = {free[1].token_ids[2], free[4].token_ids[5]}
    kept_sizes = []
    from transformers import DynamicCache

    reorder = DynamicCache.reorder_cache
    monkeypatch.setattr(
        DynamicCache, "reorder_cache", lambda self, keep: kept_sizes.append(len(keep)) or reorder(self, keep)
    )
    dropped = policy.generate(prompts, greedy)
    monkeypatch.setattr(hf, "DROP_FINISHED_AT", 10**6)  # never drop
    kept = policy.generate(prompts, greedy)
    assert kept_sizes and min(kept_sizes) < len(prompts)  # rows did leave the batch
    assert [g.token_ids for g in dropped] == [g.token_ids for g in kept]
    for a, b in zip(dropped, kept, strict=True):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)
    stop_at = {
        i: next((t for t, tok in enumerate(g.token_ids) if tok in policy.stop_ids), None) for i, g in enumerate(free)
    }
    for i, g in enumerate(dropped):
        want = free[i].token_ids if stop_at[i] is None else free[i].token_ids[: stop_at[i] + 1]
        assert g.token_ids == want
        assert g.finish_reason == ("length" if stop_at[i] is None else "stop")


def test_overlapping_decode_loops_switch_the_attention_on_once_and_back_once(gqa_model):
    from mentor_agents.prefix_attention import NAME, prefix_attention_enabled

    before = gqa_model.config._attn_implementation
    first, second = prefix_attention_enabled(gqa_model), prefix_attention_enabled(gqa_model)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first loop ends while the second still decodes
    assert gqa_model.config._attn_implementation == NAME
    second.__exit__(None, None, None)
    assert gqa_model.config._attn_implementation == before
