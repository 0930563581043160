"""Prefilling each prompt apart and decoding the rows together gives the tokens (and, to rounding, the
log-probs) of the batched prefill, runs a repeated prompt once, runs the token positions its cost model
counts, and ``auto`` picks it only well under the batched path's positions."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from mentor_agents.apart_prefill import apart_positions, batched_positions, supports_apart  # noqa: E402
from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.shared_prefix import plan_prefixes  # noqa: E402

GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=12)


@pytest.fixture(scope="module")
def model(gqa_model):
    """The tiny GQA Llama of ``conftest.py``: large weights, so greedy tokens vary row to row."""
    return gqa_model


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


@pytest.fixture
def forwards(model, monkeypatch):
    """The ``input_ids`` shape of every forward of ``model``'s class while the test runs."""
    shapes = []
    forward = type(model).forward

    def counted(self, *args, **kwargs):
        shapes.append(tuple(kwargs["input_ids"].shape))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "forward", counted)
    return shapes


def test_a_repeated_prompt_is_prefilled_once(tokenizer, model, prompts, forwards):
    HFPolicy(model, tokenizer, precision="fp32", prefill="apart").generate(prompts, SamplingParams(0.0, 1.0, 1))
    assert sorted(width for _, width in forwards) == sorted(len(p) for p in {tuple(p) for p in prompts})
    assert all(rows == 1 for rows, _ in forwards)  # one prompt a forward, no padding


def test_rows_that_finish_early_leave_the_batch_with_the_batched_paths_tokens(tokenizer, model, prompts):
    first = HFPolicy(model, tokenizer, precision="fp32").generate(prompts, GREEDY)
    stops = {first[0].token_ids[1], first[3].token_ids[2]}  # rows 0 and 2 (the same prompt) and 3 stop early
    results = {}
    for mode in ("batched", "apart"):
        policy = HFPolicy(model, tokenizer, precision="fp32", prefill=mode)
        policy.stop_ids = stops
        results[mode] = policy.generate(prompts, GREEDY)
    assert [g.token_ids for g in results["apart"]] == [g.token_ids for g in results["batched"]]
    assert sum(g.finish_reason == "stop" for g in results["apart"]) >= 3


def test_apart_decodes_the_tokens_of_the_shared_prefix_path(tokenizer, model, prompts):
    common = prompts[1] * 3  # a long prefix every row shares, then suffixes of different lengths
    rows = [common + [5], common + prompts[0], common + prompts[2] + [9, 9]]
    shared = HFPolicy(model, tokenizer, precision="fp32")
    batched = shared.generate(rows, GREEDY)
    apart = HFPolicy(model, tokenizer, precision="fp32", prefill="apart").generate(rows, GREEDY)
    assert [g.token_ids for g in apart] == [g.token_ids for g in batched]
    assert plan_prefixes(rows) is not None  # the batched path did share the prefix


@pytest.mark.parametrize("mode", ["batched", "apart"])
def test_the_position_counts_are_what_each_prefill_runs(tokenizer, model, prompts, forwards, mode):
    common = prompts[1] * 2
    for rows in (prompts, [common + [5], common + prompts[0], common + [6, 7, 8]], [prompts[1]] * 4):
        forwards.clear()
        HFPolicy(model, tokenizer, precision="fp32", prefill=mode).generate(rows, SamplingParams(0.0, 1.0, 1))
        ran = sum(r * w for r, w in forwards)
        expected = apart_positions(rows) if mode == "apart" else batched_positions(rows, plan_prefixes(rows))
        assert ran == expected


def test_auto_prefills_apart_only_well_under_the_batched_positions(tokenizer, model, prompts):
    policy = HFPolicy(model, tokenizer, precision="fp32", prefill="auto")
    policy.generate(prompts, SamplingParams(0.0, 1.0, 2))
    assert policy.last_prefill == "apart"  # 3 distinct prompts of different lengths, little shared
    group = [prompts[1] + [7, 8, 9]] * 4 + [prompts[1] + [5]]  # a group behind one long common prefix
    policy.generate(group, SamplingParams(0.0, 1.0, 2))
    assert policy.last_prefill == "batched"
    same = [prompts[1]] * 8  # a GRPO group: apart would run one position fewer, and copy the KV 8 times
    assert apart_positions(same) < batched_positions(same, plan_prefixes(same))
    policy.generate(same, SamplingParams(0.0, 1.0, 2))
    assert policy.last_prefill == "batched"
    static = HFPolicy(model, tokenizer, precision="fp32", prefill="auto", kv_cache="static")
    static.generate(prompts, SamplingParams(0.0, 1.0, 2))
    assert static.last_prefill == "batched"  # a static cache cannot take an apart prefill


def test_apart_is_refused_where_it_cannot_run(tokenizer, model):
    from transformers import MistralConfig

    with pytest.raises(ValueError, match="static"):
        HFPolicy(model, tokenizer, kv_cache="static", prefill="apart")
    with pytest.raises(ValueError, match="prefill must be one of"):
        HFPolicy(model, tokenizer, prefill="sometimes")
    assert supports_apart(model)
    windowed = MistralConfig(vocab_size=16, hidden_size=8, intermediate_size=8, num_hidden_layers=2,
                             num_attention_heads=2, num_key_value_heads=1, sliding_window=4)  # fmt: skip
    assert not supports_apart(SimpleNamespace(config=windowed))  # a window's cache is not the prompt's length
