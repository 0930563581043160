"""Token-in-token-out rollouts."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from mentor_agents.policies import SamplingParams, ScriptedPolicy  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.rollout import make_envs, play_chunks, rollout, split_into_chunks  # noqa: E402
from mentor_agents.tokenizer import encode, render  # noqa: E402
from mentor_agents.train.common import score_tokens  # noqa: E402


def test_incremental_ids_equal_full_render(tokenizer, train_tasks):
    envs = make_envs("tooluse/Calculator-v0", 4, split="train", reward="mentor", max_turns=5)
    tasks = train_tasks[:4]
    trajs = rollout(envs, ScriptedPolicy(tokenizer, tasks), tokenizer, SamplingParams(), [t.id for t in tasks])
    tools = envs[0].unwrapped._tool_schemas(tasks[0])
    for traj in trajs:
        assert traj.reward == pytest.approx(1.1)
        full = encode(tokenizer, render(tokenizer, traj.messages, tools, generation_prompt=False))
        # the full render ends with "<|im_end|>\n"; the rollout stops at the sampled <|im_end|>
        assert traj.token_ids == full[:-1] and full[-1:] == encode(tokenizer, "\n")
        assert len(traj.loss_mask) == len(traj.token_ids) == len(traj.old_logprobs)


def test_loss_mask_covers_exactly_the_sampled_turns(tokenizer, train_tasks):
    envs = make_envs("tooluse/Calculator-v0", 1, split="train", reward="mentor")
    task = train_tasks[1]  # two tool turns, then the answer
    (traj,) = rollout(envs, ScriptedPolicy(tokenizer, [task]), tokenizer, SamplingParams(), [task.id])
    sampled_ids = [t for t, m in zip(traj.token_ids, traj.loss_mask, strict=True) if m]
    sampled = tokenizer.decode(sampled_ids, skip_special_tokens=False)
    assert sampled.count("<tool_call>") == 2 and sampled.count("<|im_end|>") == 3
    assert "<tool_response>" not in sampled and "<|im_start|>" not in sampled
    assert sum(traj.loss_mask[: traj.prompt_len]) == 0


def test_hf_policy_rollout_is_seeded_and_keeps_logprobs(tokenizer, tiny_model):
    envs = make_envs("tooluse/Calculator-v0", 3, split="train", reward="mentor", max_turns=2)
    policy = HFPolicy(tiny_model, tokenizer, device="cpu")
    sampling = SamplingParams(max_new_tokens=12)
    ids = ["calculator/train/00000"] * 3
    first = rollout(envs, policy, tokenizer, sampling, ids, seed=3)
    second = rollout(envs, policy, tokenizer, sampling, ids, seed=3)
    assert [t.token_ids for t in first] == [t.token_ids for t in second]
    for traj in first:
        gen = [lp for lp, m in zip(traj.old_logprobs, traj.loss_mask, strict=True) if m]
        assert len(gen) == traj.generated_tokens > 0 and all(lp <= 0 for lp in gen)
        assert 1 <= traj.episode["turns"] <= 2
        # the kept log-probs are the model's own for the sampled tokens (at the sampling temperature)
        ids = torch.tensor([traj.token_ids])
        with torch.no_grad():
            scored, _ = score_tokens(tiny_model, ids, torch.ones_like(ids), sampling.temperature)
        mask = torch.tensor(traj.loss_mask[1:], dtype=torch.bool)
        kept = torch.tensor(traj.old_logprobs[1:])
        assert torch.allclose(kept[mask], scored[0][mask], atol=1e-4)


def test_chunks_cover_the_batch_in_order_with_distinct_seeds():
    ids = [f"t{i}" for i in range(10)]
    chunks = split_into_chunks(ids, 3, seed=5)
    assert [len(c.task_ids) for c in chunks] == [4, 3, 3]
    assert [t for c in chunks for t in c.task_ids] == ids
    assert len({c.seed for c in chunks}) == 3
    assert [c.seed for c in split_into_chunks(ids, 3, seed=5)] == [c.seed for c in chunks]
    assert [c.seed for c in split_into_chunks(ids, 3, seed=6)] != [c.seed for c in chunks]
    assert all(c.seed is None for c in split_into_chunks(ids, 2, seed=None))
    with pytest.raises(ValueError, match="cannot split 10 episodes into 11 chunks"):
        split_into_chunks(ids, 11, seed=0)


def test_a_chunk_plays_the_same_on_any_envs(tokenizer, tiny_model):
    """What makes Ray collection equal local collection: a chunk's tokens do not depend on which envs
    (or which earlier chunks) came before it."""
    policy = HFPolicy(tiny_model, tokenizer, device="cpu")
    sampling = SamplingParams(max_new_tokens=10)
    chunks = split_into_chunks(["calculator/train/00000", "calculator/train/00001"] * 2, 2, seed=1)
    together = play_chunks(make_envs("tooluse/Calculator-v0", 2, split="train"), policy, tokenizer, sampling, chunks)
    alone = play_chunks(make_envs("tooluse/Calculator-v0", 5, split="train"), policy, tokenizer, sampling, chunks[1:])
    assert [t.token_ids for t in together[2:]] == [t.token_ids for t in alone]
    assert [t.token_ids for t in together[:2]] != [t.token_ids for t in together[2:]]  # seeds differ per chunk
