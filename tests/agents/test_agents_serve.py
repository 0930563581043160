"""``mentor serve`` + ``OpenAIPolicy``: a real HTTP round trip on loopback."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from mentor_agents.policies.base import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.policies.openai import OpenAIPolicy  # noqa: E402
from mentor_agents.rollout import make_envs, rollout  # noqa: E402
from mentor_agents.serve import build_app, completion_message, env_messages  # noqa: E402
from tooluse_envs.rest.transport import LoopbackServer  # noqa: E402

GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=12, seed=0)


@pytest.fixture()
def served(tiny_model, tokenizer):
    local = HFPolicy(tiny_model, tokenizer, batch_size=4)
    server = LoopbackServer(build_app(local, "tiny"))
    yield local, OpenAIPolicy("tiny", base_url=f"{server.url}/v1")
    server.stop()


def test_served_model_answers_like_the_local_one(served):
    local, remote = served
    conversation = [{"role": "user", "content": "What is 2 + 3? Use the tools."}]
    (here,) = local.generate([conversation], GREEDY)
    (there,) = remote.generate([conversation], GREEDY)
    assert there.text == completion_message(here.text)[0]["content"] == here.text
    assert there.finish_reason == here.finish_reason


def test_openai_policy_plays_an_env_episode_through_the_server(served, tokenizer):
    _, remote = served
    envs = make_envs("tooluse/Calculator-v0", 2, split="test_id", max_turns=2, reward="mentor")
    trajectories = rollout(envs, remote, tokenizer, GREEDY, task_ids=None, seed=3)
    assert len(trajectories) == 2
    assert all(t.episode and "success" in t.episode for t in trajectories)


def test_tool_calls_become_structured_and_malformed_turns_stay_text():
    message, has_calls = completion_message(
        'Sure.<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'
    )
    assert has_calls and message["content"] == "Sure."
    assert message["tool_calls"][0]["function"] == {"name": "add", "arguments": json.dumps({"a": 1, "b": 2})}
    broken = "<tool_call>{not json}</tool_call>"
    assert completion_message(broken) == ({"role": "assistant", "content": broken}, False)
    wire = [
        {
            "role": "assistant",
            "tool_calls": [{"id": "1", "type": "function", "function": message["tool_calls"][0]["function"]}],
        }
    ]
    assert env_messages(wire)[0]["tool_calls"][0]["function"]["arguments"] == {"a": 1, "b": 2}
