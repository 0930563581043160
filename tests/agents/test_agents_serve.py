"""``mentor serve`` + ``OpenAIPolicy``: a real HTTP round trip on loopback.

The round trip must be lossless for what the env sees: tool calls leave the server as structured
``tool_calls``, come back to the client as ``<tool_call>`` text, and must reach the env as the same calls
(names and arguments); plain text and the finish reason must survive too.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from mentor_agents.policies.base import Generation, SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.policies.openai import OpenAIPolicy, _wire_message  # noqa: E402
from mentor_agents.policies.scripted import ScriptedPolicy  # noqa: E402
from mentor_agents.rollout import make_envs, rollout  # noqa: E402
from mentor_agents.serve import (  # noqa: E402
    TurnHistory,
    build_app,
    completion_message,
    conversation_key,
    env_messages,
)
from mentor_agents.tokenizer import encode, render  # noqa: E402
from tooluse_envs.rest.transport import LoopbackServer  # noqa: E402

GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=12, seed=0)
ENV = "tooluse/Calculator-v0"
N_EPISODES = 4
# MENTOR's reward for a correct answer reached with the teacher's tools and no unknown tool: 0.7 + 0.3 + 0.1
PERFECT_MENTOR = 1.1


class ServedScripted:
    """``ScriptedPolicy`` behind ``build_app``, which passes the request's ``tools`` (unused here)."""

    def __init__(self, policy: ScriptedPolicy) -> None:
        self.policy = policy

    def generate(self, prompts, sampling, tools=None):
        return self.policy.generate(prompts, sampling)


@pytest.fixture()
def served(tiny_model, tokenizer):
    local = HFPolicy(tiny_model, tokenizer, batch_size=4)
    server = LoopbackServer(build_app(local, "tiny"))
    yield local, OpenAIPolicy("tiny", base_url=f"{server.url}/v1")
    server.stop()


@pytest.fixture()
def test_id_envs():
    envs = make_envs(ENV, N_EPISODES, split="test_id", max_turns=5, reward="mentor")
    yield envs
    for env in envs:
        env.close()


def _calls(episode: dict) -> list[tuple[str, dict]]:
    return [(call["name"], call["arguments"]) for call in episode["tool_calls"]]


def _assistant_turns(trajectory) -> list[str]:
    return [m["content"] for m in trajectory.messages if m["role"] == "assistant"]


def test_served_model_answers_like_the_local_one(served):
    local, remote = served
    conversation = [{"role": "user", "content": "What is 2 + 3? Use the tools."}]
    (here,) = local.generate([conversation], GREEDY)
    (there,) = remote.generate([conversation], GREEDY)
    assert there.text == completion_message(here.text)[0]["content"] == here.text
    assert there.finish_reason == here.finish_reason


def test_served_oracle_plays_calculator_episodes_with_the_reference_calls(tokenizer, test_id_envs):
    """The scripted oracle behind the server, played through ``OpenAIPolicy``: every episode succeeds with
    the reference's tool calls (names and arguments) and MENTOR's perfect-match reward, as played locally."""
    tasks = test_id_envs[0].unwrapped.tasks[:N_EPISODES]
    oracle = ScriptedPolicy(tokenizer, tasks, "oracle")
    server = LoopbackServer(build_app(ServedScripted(oracle), "oracle"))
    try:
        remote = OpenAIPolicy("oracle", base_url=f"{server.url}/v1")
        sampling = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=512, seed=0)
        task_ids = [task.id for task in tasks]
        served = rollout(test_id_envs, remote, tokenizer, sampling, task_ids, seed=3)
    finally:
        server.stop()
    local = rollout(test_id_envs, oracle, tokenizer, sampling, task_ids, seed=3)
    assert sum(len(task.reference.tool_calls) for task in tasks) >= N_EPISODES  # the episodes do call tools
    for task, there, here in zip(tasks, served, local, strict=True):
        expected = [(call.name, call.arguments) for call in task.reference.tool_calls]
        assert there.episode["success"], (task.id, there.episode)
        assert _calls(there.episode) == expected, task.id
        assert all(call["valid"] for call in there.episode["tool_calls"]), task.id
        assert there.episode["turns"] == len(task.reference.call_groups()) + 1  # call turns, then the answer
        assert there.reward == pytest.approx(PERFECT_MENTOR)
        assert there.reward_components == {"c": 1.0, "m": 1.0, "h": 1.0}
        # the same episode as the oracle played without the server, turn by turn
        assert there.episode == here.episode and there.reward == here.reward
        assert there.messages == here.messages


def test_remote_rollout_matches_the_local_one_greedy(served, tokenizer, test_id_envs):
    """The tiny model greedy, one episode at a time (a batch of one, as the server generates): through the
    server, the env sees the same assistant turns, finish reasons, tool calls and rewards as locally."""
    local, remote = served
    task_ids = [task.id for task in test_id_envs[0].unwrapped.tasks[:N_EPISODES]]
    env = test_id_envs[:1]
    for i, task_id in enumerate(task_ids):
        (here,) = rollout(env, local, tokenizer, GREEDY, [task_id], seed=3 + i)
        (there,) = rollout(env, remote, tokenizer, GREEDY, [task_id], seed=3 + i)
        assert _assistant_turns(here) and all(_assistant_turns(here)), task_id
        assert _assistant_turns(there) == _assistant_turns(here), task_id
        assert there.messages == here.messages, task_id
        assert there.episode == here.episode, task_id  # tool calls, turns, ended_with_eos (finish reason)
        assert (there.reward, there.reward_components) == (here.reward, here.reward_components), task_id


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


# A valid call in a layout the env re-serialises, and a malformed block the env drops from its record.
NON_CANONICAL = [
    'Let me add.<tool_call>{"name":"add","arguments":{"a":1.50,"b":2}}</tool_call>',
    '<tool_call>\n{"name": "add", "arguments": {"a": 2}.',
]


def _env_record(text: str) -> tuple[list[dict], list[dict]]:
    """The env's messages after one turn of ``text`` (wire form, as ``OpenAIPolicy`` sends them), and its tools."""
    (env,) = make_envs(ENV, 1, split="test_id", max_turns=3)
    _, info = env.reset(seed=0)
    _, _, terminated, _, step = env.step({"role": "assistant", "content": text, "finish_reason": "stop"})
    env.close()
    assert not terminated
    return [_wire_message(m) for m in step["messages"]], info["tools"]


@pytest.mark.parametrize("text", NON_CANONICAL)
def test_the_env_record_of_a_turn_keys_like_the_server_reply(text):
    """The env's record of a turn (calls parsed, malformed blocks dropped) is not the model's text, yet it
    names the same conversation as the server's own reply, so the server finds the turn's token ids."""
    record, tools = _env_record(text)
    turn = next(i for i, m in enumerate(record) if m["role"] == "assistant")
    assert record[turn].get("content") != text  # the env rewrote the turn
    reply, _ = completion_message(text)
    assert conversation_key(record[: turn + 1], tools) == conversation_key([*record[:turn], reply], tools)


@pytest.mark.parametrize("text", NON_CANONICAL)
def test_a_follow_up_request_continues_from_the_remembered_ids(tokenizer, text):
    """The next prompt is the first prompt, the sampled ids and the newly rendered tool turn (as the rollout
    builds it), not the re-rendered record; an edited history falls back to rendering the messages."""
    record, tools = _env_record(text)
    turn = next(i for i, m in enumerate(record) if m["role"] == "assistant")
    history = TurnHistory(tokenizer)
    first = history.prompt(record[:turn], tools)
    sampled = encode(tokenizer, text) + [tokenizer.eos_token_id]
    history.remember(record[:turn], tools, first, Generation(text, sampled, [], "stop"))
    follow_up = history.prompt(record, tools)
    rendered = encode(tokenizer, render(tokenizer, env_messages(record), tools, generation_prompt=True))
    assert follow_up[: len(first) + len(sampled)] == [*first, *sampled] and follow_up != rendered
    assert tokenizer.decode(follow_up[len(first) + len(sampled) :]).startswith("\n<|im_start|>user\n")
    edited = [*record[:turn], {"role": "assistant", "content": "Something else."}, *record[turn + 1 :]]
    assert history.prompt(edited, tools) == encode(
        tokenizer, render(tokenizer, env_messages(edited), tools, generation_prompt=True)
    )
