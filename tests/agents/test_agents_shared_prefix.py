"""Shared prefixes: rows that start alike are run through the model once for that part, and the answer
(sampled tokens, log-probs, gradients) is the one every row would get on its own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.shared_prefix import first_trainable, plan_prefixes, score_rows  # noqa: E402
from mentor_agents.teachers import OracleTeacher, conversation_ids  # noqa: E402
from mentor_agents.train.common import pad_right, score_tokens  # noqa: E402

rows_strategy = st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=40), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(rows=rows_strategy, data=st.data())
def test_a_plan_splits_every_row_into_its_groups_prefix_and_a_nonempty_suffix(rows, data):
    limits = data.draw(st.lists(st.integers(0, 45), min_size=len(rows), max_size=len(rows)))
    plan = plan_prefixes(rows, limits, min_shared=2)
    if plan is None:
        return
    assert len(plan.prefixes) < len(rows)  # a plan is only made when something is shared
    for i, row in enumerate(rows):
        prefix = plan.prefixes[plan.group_of_row[i]]
        assert prefix + plan.suffixes[i] == row
        assert plan.suffixes[i], "every row keeps a token of its own"
        assert len(prefix) <= limits[i]
    assert all(len(p) >= 1 for p in plan.prefixes)


def test_identical_prompts_share_all_but_their_last_token_and_unrelated_rows_share_nothing():
    prompt, other = list(range(100)), [7] * 50
    plan = plan_prefixes([prompt, other, prompt, prompt])
    assert plan is not None
    groups = {plan.group_of_row[i] for i in (0, 2, 3)}
    assert len(groups) == 1 and plan.group_of_row[1] not in groups
    assert plan.prefixes[groups.pop()] == prompt[:-1] and plan.saved_tokens == 2 * 99
    assert plan_prefixes([prompt, other]) is None
    assert plan_prefixes([prompt, prompt[:10] + [999] * 90]) is None  # 10 common tokens < MIN_SHARED


def test_a_scoring_prefix_stops_before_the_first_trainable_token():
    row = list(range(80))
    mask = [0] * 50 + [1] * 30
    plan = plan_prefixes([row, row], [first_trainable(mask)] * 2)
    assert plan is not None and len(plan.prefixes[0]) == 50


@pytest.fixture(scope="module")
def conversations(tokenizer):
    """Teacher conversations of four Calculator tasks: one system prompt and tool schemas, four questions."""
    teacher = OracleTeacher()
    convs = teacher.conversations([task.id for task in teacher.env.unwrapped.tasks[:4]])
    teacher.env.close()
    return [conversation_ids(tokenizer, c.messages, c.tools) for c in convs]


def _prompt(ids_and_mask):
    ids, mask = ids_and_mask
    return ids[: first_trainable(mask)]


@pytest.mark.parametrize(
    ("share_prefix", "kv_cache", "prefix_kv"),
    [
        (True, "growing", "shared"),
        (True, "growing", "copied"),
        (False, "growing", "shared"),
        (True, "dynamic", "shared"),
        (True, "dynamic", "copied"),
        (False, "static", "shared"),
        (True, "static", "shared"),
    ],
)
def test_greedy_generation_equals_the_plain_dynamic_cache_path(
    tokenizer, tiny_model, conversations, share_prefix, kv_cache, prefix_kv
):
    # groups of identical prompts (GRPO) next to prompts that share only the system prompt (evaluation)
    prompts = [_prompt(conversations[0])] * 3 + [_prompt(c) for c in conversations[1:]]
    greedy = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=12)
    fast_policy = HFPolicy(tiny_model, tokenizer, share_prefix=share_prefix, kv_cache=kv_cache, prefix_kv=prefix_kv)
    fast = fast_policy.generate(prompts, greedy)
    plain_policy = HFPolicy(tiny_model, tokenizer, share_prefix=False, kv_cache="dynamic")
    plain = plain_policy.generate(prompts, greedy)
    assert [g.token_ids for g in fast] == [g.token_ids for g in plain]
    assert all(len(g.token_ids) == 12 for g in plain)  # no early stop: every cache slot is used
    assert plain_policy.timings["decode_steps"] == 11 and plain_policy.timings["prefill_s"] > 0
    for a, b in zip(fast, plain, strict=True):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)


def test_an_unknown_kv_cache_is_refused(tokenizer, tiny_model):
    with pytest.raises(ValueError, match="kv_cache"):
        HFPolicy(tiny_model, tokenizer, kv_cache="paged")
    with pytest.raises(ValueError, match="prefix_kv"):
        HFPolicy(tiny_model, tokenizer, prefix_kv="paged")


def test_sampled_generation_with_sharing_is_seeded(tokenizer, tiny_model, conversations):
    prompts = [_prompt(conversations[0])] * 4
    sampling = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=10, seed=3)
    policy = HFPolicy(tiny_model, tokenizer, share_prefix=True)
    first, second = policy.generate(prompts, sampling), policy.generate(prompts, sampling)
    assert [g.token_ids for g in first] == [g.token_ids for g in second]
    assert len({tuple(g.token_ids) for g in first}) > 1  # the group's samples still differ


def _plain_scores(model, rows, entropy=False):
    ids = pad_right(rows, 0, torch.long, "cpu")
    attn = pad_right([[1] * len(r) for r in rows], 0, torch.long, "cpu")
    return score_tokens(model, ids, attn, temperature=0.6, entropy=entropy)


def test_scores_and_gradients_on_trainable_tokens_equal_the_plain_pass(tiny_model, conversations):
    # a GRPO micro-batch: two samples of one task, two of another (same system prompt)
    picked = [conversations[0], conversations[0], conversations[1], conversations[2]]
    rows = [ids for ids, _ in picked]
    rows[1] = rows[1][:-5]  # a shorter second sample of the first task
    masks = [mask[: len(row)] for row, (_, mask) in zip(rows, picked, strict=True)]
    loss_mask = pad_right(masks, 0, torch.float32, "cpu")[:, 1:]

    def loss_and_grads(scores):
        logp, entropy = scores
        loss = ((logp + 0.1 * entropy) * loss_mask).sum() / loss_mask.sum()
        tiny_model.zero_grad()
        loss.backward()
        return logp.detach(), [p.grad.clone() for p in tiny_model.parameters()]

    tiny_model.train()
    shared = score_rows(tiny_model, rows, masks, temperature=0.6, entropy=True)
    assert shared is not None
    shared_logp, shared_grads = loss_and_grads(shared)
    plain_logp, plain_grads = loss_and_grads(_plain_scores(tiny_model, rows, entropy=True))
    trainable = loss_mask.bool()
    assert shared_logp.shape == plain_logp.shape
    torch.testing.assert_close(shared_logp[trainable], plain_logp[trainable], atol=1e-4, rtol=1e-4)
    for a, b in zip(shared_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-3)


def test_rows_without_a_common_prefix_are_left_to_the_plain_pass(tiny_model):
    assert score_rows(tiny_model, [[1, 2, 3], [4, 5, 6]], [[0, 1, 1], [0, 1, 1]]) is None


def test_an_sft_step_with_a_shared_prefix_has_the_plain_loss_and_gradients(tiny_model, conversations):
    from mentor_agents.train.sft import sft_step

    results = []
    for share in (True, False):
        tiny_model.zero_grad()
        loss = sft_step(tiny_model, conversations, share_prefix=share)
        loss.backward()
        results.append((loss.item(), [p.grad.clone() for p in tiny_model.parameters()]))
    (shared_loss, shared_grads), (plain_loss, plain_grads) = results
    assert shared_loss == pytest.approx(plain_loss, rel=1e-5)
    for a, b in zip(shared_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-3)


def test_sft_refuses_packing_and_sharing_together():
    from mentor_agents.train.config import SFTConfig

    with pytest.raises(ValueError, match="share_prefix"):
        SFTConfig(pack_to=512)
    assert SFTConfig(pack_to=512, share_prefix=False).pack_to == 512
