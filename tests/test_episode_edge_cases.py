"""How an episode's record reads the edge cases the MENTOR authors' reward code decides: where the
answer is taken from, and what a call beyond the per-turn cap counts as."""

from __future__ import annotations

import gymnasium as gym
import pytest

from tooluse_envs.errors import ConfigError

CALL = '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'


def play(env: gym.Env, *turns: str) -> dict:
    env.reset(seed=0)
    for turn in turns:
        _, _, terminated, truncated, info = env.step(turn)
        if terminated or truncated:
            return info
    raise AssertionError("the episode did not end")


def test_a_boxed_answer_in_a_tool_call_turn_counts_as_in_the_authors_code():
    env = gym.make("tooluse/Calculator-v0", split="test_id")
    info = play(env, "I think it is \\boxed{41}. " + CALL, "Checked with the tool.")
    assert info["tool_episode"]["answer"] == "41"
    info = play(env, "First \\boxed{41}. " + CALL, "No, it is \\boxed{42}.")
    assert info["tool_episode"]["answer"] == "42"  # the last \boxed{} of the response wins


def test_final_turn_option_reads_the_answer_only_from_the_final_turn():
    env = gym.make("tooluse/Calculator-v0", split="test_id", answer_from="final_turn")
    info = play(env, "I think it is \\boxed{41}. " + CALL, "Checked with the tool.")
    assert info["tool_episode"]["answer"] is None
    with pytest.raises(ConfigError, match="answer_from"):
        gym.make("tooluse/Calculator-v0", answer_from="everywhere")


def test_a_call_beyond_the_per_turn_cap_is_not_a_hallucinated_tool():
    env = gym.make("tooluse/Calculator-v0", split="test_id", max_calls_per_turn=2, reward="mentor")
    info = play(env, CALL * 3, "\\boxed{3}")
    calls = info["tool_episode"]["tool_calls"]
    assert [c["valid"] for c in calls] == [True, True, False]
    assert calls[2]["known"] and "too many tool calls" in calls[2]["error"]
    assert info["reward_components"]["h"] == 1.0
    info = play(env, CALL * 2 + '<tool_call>{"name": "launch", "arguments": {}}</tool_call>', "\\boxed{3}")
    assert not info["tool_episode"]["tool_calls"][2]["known"]
    assert info["reward_components"]["h"] == 0.0
