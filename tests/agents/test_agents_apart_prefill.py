"""Prefilling each prompt apart and decoding the rows together gives the tokens and log-probs of the batched
prefill, runs a repeated prompt once, and ``auto`` picks it only where it runs fewer token positions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from mentor_agents.apart_prefill import apart_is_cheaper, apart_positions, batched_positions  # noqa: E402
from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.shared_prefix import plan_prefixes  # noqa: E402

GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=12)


@pytest.fixture(scope="module")
def model(tokenizer):
    """A tiny Llama with grouped-query attention and large weights (greedy tokens vary row to row)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=48, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
        initializer_range=0.6, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def prompts(tokenizer):
    """Prompts of different lengths that share only a few tokens, one of them twice."""
    texts = ["What is 2 + 2?", "Name the tool that converts a currency amount, then call it with 12 EUR.", "Hi"]
    rows = [tokenizer.encode(t) for t in texts]
    return [rows[0], rows[1], rows[0], rows[2]]


@pytest.mark.parametrize("kv_cache", ["growing", "dynamic"])
def test_apart_prefill_decodes_the_tokens_of_the_batched_prefill(tokenizer, model, prompts, kv_cache):
    batched = HFPolicy(model, tokenizer, kv_cache=kv_cache, precision="fp32").generate(prompts, GREEDY)
    policy = HFPolicy(model, tokenizer, kv_cache=kv_cache, precision="fp32", prefill="apart")
    apart = policy.generate(prompts, GREEDY)
    assert policy.last_prefill == "apart"
    assert [g.token_ids for g in apart] == [g.token_ids for g in batched]
    assert len({tuple(g.token_ids) for g in batched}) == 3  # the repeated prompt alike, the others their own
    for a, b in zip(apart, batched, strict=True):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)


def test_sampling_after_an_apart_prefill_draws_the_batched_tokens(tokenizer, model, prompts):
    sampling = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=8, seed=5)
    batched = HFPolicy(model, tokenizer, precision="fp32").generate(prompts, sampling)
    apart = HFPolicy(model, tokenizer, precision="fp32", prefill="apart").generate(prompts, sampling)
    assert [g.token_ids for g in apart] == [g.token_ids for g in batched]


def test_a_repeated_prompt_is_prefilled_once(tokenizer, model, prompts, monkeypatch):
    widths = []
    forward = type(model).forward

    def counted(self, *args, **kwargs):
        widths.append(kwargs["input_ids"].shape)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "forward", counted)
    HFPolicy(model, tokenizer, precision="fp32", prefill="apart").generate(prompts, SamplingParams(0.0, 1.0, 1))
    assert sorted(shape[1] for shape in widths) == sorted({len(p) for p in map(tuple, prompts)})
    assert all(shape[0] == 1 for shape in widths)  # one prompt a forward, no padding


def test_auto_prefills_apart_only_where_it_runs_fewer_positions(tokenizer, model, prompts):
    policy = HFPolicy(model, tokenizer, precision="fp32", prefill="auto")
    policy.generate(prompts, SamplingParams(0.0, 1.0, 2))
    assert policy.last_prefill == "apart"  # 3 distinct prompts of different lengths, little shared
    group = [prompts[1] + [7, 8, 9]] * 4 + [prompts[1] + [5]]  # a group behind one long common prefix
    policy.generate(group, SamplingParams(0.0, 1.0, 2))
    assert policy.last_prefill == "batched"


def test_a_static_cache_cannot_take_an_apart_prefill(tokenizer, model):
    with pytest.raises(ValueError, match="static"):
        HFPolicy(model, tokenizer, kv_cache="static", prefill="apart")
    with pytest.raises(ValueError, match="prefill must be one of"):
        HFPolicy(model, tokenizer, prefill="sometimes")


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=12), min_size=1, max_size=6))
def test_the_position_counts_match_what_each_prefill_runs(rows):
    plan = plan_prefixes(rows, min_shared=2)
    batched = batched_positions(rows, plan)
    if plan is None:
        assert batched == len(rows) * max(map(len, rows))
    else:  # the prefixes and suffixes, each padded to its longest
        assert batched <= len(rows) * max(map(len, rows)) + len(plan.prefixes) * max(map(len, plan.prefixes))
    assert apart_positions(rows) == sum(len(r) for r in {tuple(r) for r in rows})
    assert apart_is_cheaper(rows, plan) == (apart_positions(rows) < batched)
    assert apart_positions(rows) <= len(rows) * max(map(len, rows))  # never more than padding every row
