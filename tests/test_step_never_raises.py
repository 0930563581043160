"""``env.step`` never raises, whatever the action, on every registered env (a property test).

Actions are drawn from the shapes a model, a client library or a buggy script produce: text with and
without tool-call blocks, malformed and oversized JSON, integers past Python's 4,300-digit printing
limit, NaN and infinities, lone surrogates, deep nesting, bytes and sets in message dicts, adversarial
``\\boxed{}`` answers, and values that are no action at all. Every step must return a well-formed
5-tuple, and an action that is invalid by construction must be answered with an error in the
observation. Each example plays one episode of up to three such turns.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tooluse_envs.actions import ActionError, json_problem, load_json
from tooluse_envs.oracle import reference_actions
from tooluse_envs.rewards import REWARDS, get_reward

HUGE_INT = 10**10000
HUGE_INT_TEXT = "9" * 5000  # past Python's int-string limit (4,300 digits)
SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udc80b"])


@dataclass(frozen=True)
class Action:
    """A drawn action and whether it is invalid by construction (then the observation must say Error)."""

    value: Any
    invalid: bool


def _self_containing_list() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


# -- values ---------------------------------------------------------------------------------------

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    SURROGATES,
)


def _containers(kids: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3)


json_values = st.recursive(json_leaves, _containers, max_leaves=8)

# each of these makes the data it sits in something the tools must not receive
odd_values = st.one_of(
    st.binary(max_size=8),
    st.sets(st.integers(), max_size=3),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), HUGE_INT, -HUGE_INT, (1, 2), 1j]),
    st.builds(object),
    st.integers(min_value=70, max_value=3000).map(_nested),
    st.builds(_self_containing_list),
    st.dictionaries(st.integers(), json_values, min_size=1, max_size=2),
)


@st.composite
def spoiled(draw: st.DrawFn, base: st.SearchStrategy[Any] = json_values) -> Any:
    """JSON data with one odd value put somewhere in it (so it is invalid wherever it lands)."""
    odd = draw(odd_values)
    shape = draw(st.sampled_from(["alone", "in a dict", "in a list", "deep in a dict"]))
    if shape == "alone":
        return odd
    if shape == "in a dict":
        return {**draw(st.dictionaries(st.text(max_size=6), base, max_size=2)), "odd": odd}
    if shape == "in a list":
        return [*draw(st.lists(base, max_size=2)), odd]
    return {"a": [{"b": odd}]}


# -- text actions ----------------------------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=60)  # Cs included: lone surrogates


def block(body: str) -> str:
    return f"<tool_call>{body}</tool_call>"


@st.composite
def broken_call_json(draw: st.DrawFn, name: str) -> str:
    """The text inside a tool-call block that cannot be a valid call of ``name``."""
    arguments = json.dumps(draw(json_values), ensure_ascii=False)
    kind = draw(
        st.sampled_from(["huge int", "huge float", "constant", "deep", "truncated", "junk", "huge int string arg"])
    )
    if kind == "huge int":
        return f'{{"name": "{name}", "arguments": {{"a": {HUGE_INT_TEXT}, "b": 1}}}}'
    if kind == "huge float":
        return f'{{"name": "{name}", "arguments": {{"x": 1{"0" * 400}.5}}}}'
    if kind == "constant":
        return f'{{"name": "{name}", "arguments": {{"x": {draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))}}}}}'
    if kind == "deep":
        depth = draw(st.integers(min_value=70, max_value=5000))
        return f'{{"name": "{name}", "arguments": {{"x": {"[" * depth}{"]" * depth}}}}}'
    if kind == "truncated":
        full = json.dumps({"name": name, "arguments": json.loads(arguments) if arguments.startswith("{") else {}})
        return full[: draw(st.integers(min_value=0, max_value=len(full) - 1))]
    if kind == "huge int string arg":
        inner = json.dumps(f'{{"a": {HUGE_INT_TEXT}}}')
        return f'{{"name": "{name}", "arguments": {inner}}}'
    junk = draw(any_text)
    return junk if not junk.strip().startswith("{") else "{" + junk  # never valid JSON of a call


@st.composite
def boxed_answers(draw: st.DrawFn) -> str:
    inner = draw(
        st.sampled_from(
            [
                "1/" + "7" * 5000,
                "1" + "e" * 20000 + "!",
                "1 " * 5000 + "/",
                HUGE_INT_TEXT,
                "-" * 10000 + "1",
                "\\frac{" * 2000,
                ", ".join(["1"] * 20000),
                "1e999999999",
            ]
        )
        | any_text
    )
    return f"The answer is \\boxed{{{inner}}}"


# -- message dicts --------------------------------------------------------------------------------


def tool_call_item(name: str, arguments: Any) -> dict[str, Any]:
    return {"id": "c", "type": "function", "function": {"name": name, "arguments": arguments}}


@st.composite
def json_call(draw: st.DrawFn, tools: dict[str, list[str]]) -> str:
    """A well-formed call of a task tool with drawn JSON arguments (lone surrogates included): it may run."""
    name = draw(st.sampled_from(sorted(tools)))
    keys = st.sampled_from(tools[name]) if tools[name] else st.text(max_size=5)
    arguments = draw(st.dictionaries(keys | st.text(max_size=5), json_values, max_size=3))
    return block(json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False))


@st.composite
def actions(draw: st.DrawFn, tools: dict[str, list[str]]) -> Action:
    """One action: a valid-looking or broken text turn, a message dict, or something else entirely.

    ``tools`` maps the current task's tool names to their parameter names.
    """
    name = draw(st.sampled_from([*tools, "no_such_tool"]))
    kind = draw(
        st.sampled_from(
            [
                "text",
                "json call",
                "message",
                "boxed",
                "broken block",
                "unclosed block",
                "many broken blocks",
                "oversized",
                "odd content",
                "odd finish_reason",
                "odd arguments",
                "odd tool_calls item",
                "huge arguments string",
                "oversized dict",
                "not an action",
            ]
        )
    )
    if kind == "text":
        return Action(draw(any_text), invalid=False)
    if kind == "json call":
        return Action(draw(json_call(tools)) * draw(st.integers(1, 3)), invalid=False)
    if kind == "message":
        calls = [tool_call_item(name, draw(st.dictionaries(st.text(max_size=5), json_values, max_size=2)))]
        message = {"role": "assistant", "content": draw(any_text | boxed_answers() | st.none())}
        if draw(st.booleans()):
            message["tool_calls"] = calls
        message["finish_reason"] = draw(st.sampled_from(["stop", "length", "tool_calls", None]))
        return Action(message, invalid=False)
    if kind == "boxed":
        return Action(draw(boxed_answers()), invalid=False)
    if kind == "broken block":
        return Action(draw(any_text) + block(draw(broken_call_json(name))), invalid=True)
    if kind == "unclosed block":
        return Action("<tool_call>" + json.dumps({"name": name, "arguments": {}}), invalid=True)
    if kind == "many broken blocks":
        return Action(block(draw(broken_call_json(name))) * draw(st.integers(2, 40)), invalid=True)
    if kind == "oversized":
        return Action(block("{") + "x" * (1 << 20), invalid=True)
    if kind == "odd content":
        return Action({"role": "assistant", "content": draw(spoiled())}, invalid=True)
    if kind == "odd finish_reason":
        reason = draw(st.one_of(odd_values, st.integers(), st.lists(st.text(max_size=3), max_size=2)))
        return Action({"role": "assistant", "content": "hi", "finish_reason": reason}, invalid=True)
    if kind == "odd arguments":
        calls = [tool_call_item(name, draw(spoiled()))]
        return Action({"role": "assistant", "content": None, "tool_calls": calls}, invalid=True)
    if kind == "odd tool_calls item":
        item = draw(st.one_of(spoiled(), st.just({"function": draw(odd_values)}), st.just({"function": "nope"})))
        return Action({"role": "assistant", "tool_calls": [item]}, invalid=True)
    if kind == "huge arguments string":
        calls = [tool_call_item(name, f'{{"a": {HUGE_INT_TEXT}}}')]
        return Action({"role": "assistant", "content": "", "tool_calls": calls}, invalid=True)
    if kind == "oversized dict":
        calls = [tool_call_item(name, {"code": "x" * (1 << 20)})]
        return Action({"role": "assistant", "content": "", "tool_calls": calls}, invalid=True)
    not_a_message = odd_values.filter(lambda value: not isinstance(value, dict))  # any dict is read as a message
    return Action(
        draw(st.one_of(not_a_message, st.none(), st.integers(), st.lists(st.text(), max_size=2))), invalid=True
    )


# -- the property -----------------------------------------------------------------------------------


def _check_step_result(result: Any, action: Action) -> tuple[bool, bool]:
    observation, reward, terminated, truncated, info = result
    assert isinstance(observation, str) and isinstance(info, dict)
    assert isinstance(reward, float) and math.isfinite(reward)
    assert isinstance(terminated, bool) and isinstance(truncated, bool)
    if action.invalid:
        assert "Error" in observation, (repr(action.value)[:300], observation[:300])
    if terminated or truncated:
        assert "tool_episode" in info and "reward_components" in info
    json.dumps(info.get("tool_episode", {}), ensure_ascii=False)  # what reaches info is JSON, whatever came in
    return terminated, truncated


def _tool_parameters(info: dict[str, Any]) -> dict[str, list[str]]:
    """The task's tools (from reset's info) and their parameter names."""
    functions = [tool["function"] for tool in info["tools"]]
    return {f["name"]: sorted(f["parameters"].get("properties", {})) for f in functions}


def test_step_never_raises_and_reports_invalid_actions(env_id):
    env = gym.make(env_id, split="test_id", reward="mentor", max_turns=3)
    try:

        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(seed=st.integers(0, 20), reward=st.sampled_from(sorted(REWARDS)), data=st.data())
        def episode(seed: int, reward: str, data: st.DataObject) -> None:
            # each example starts its own episode, so what is drawn depends only on the draws (the seed
            # picks the task, and so the tools the actions name); every reward reads the episode's end
            env.unwrapped.reward_fn = get_reward(reward)
            _, info = env.reset(seed=seed)
            tools = _tool_parameters(info)
            for _ in range(3):
                action = data.draw(actions(tools))
                terminated, truncated = _check_step_result(env.step(action.value), action)
                if terminated or truncated:
                    return

        episode()
    finally:
        env.close()


@pytest.mark.parametrize(
    "action",
    [
        {"content": b"x"},
        {"content": {1, 2}},
        {"role": "assistant", "tool_calls": [tool_call_item("add", {"a": HUGE_INT, "b": 1})]},
        block(f'{{"name": "add", "arguments": {{"a": {HUGE_INT_TEXT}, "b": 1}}}}'),
        "x" * ((1 << 20) + 1),
    ],
    ids=["bytes content", "set content", "huge int argument", "huge json integer", "over 1 MiB"],
)
def test_known_crashes_are_error_observations(action):
    env = gym.make("tooluse/Calculator-v0", split="test_id")
    try:
        env.reset(seed=0)
        observation, _, terminated, _, _ = env.step(action)
        assert observation.startswith("Error") or "<tool_response>\nError" in observation
        assert not terminated
        record = env.unwrapped._record
        assert not record.tool_calls[-1].valid and record.tool_calls[-1].error
    finally:
        env.close()


@pytest.mark.parametrize(
    "answer",
    ["\\boxed{1/" + "7" * 5000 + "}", "\\boxed{1" + "e" * 20000 + "!}", "\\boxed{" + HUGE_INT_TEXT + "}"],
    ids=["5000-digit denominator", "1eee...e!", "5000-digit integer"],
)
def test_adversarial_number_answers_are_wrong_answers(answer):
    env = gym.make("tooluse/Calculator-v0", split="test_id", reward="mentor")
    try:
        env.reset(seed=0)
        _, reward, terminated, _, info = env.step(answer)
        assert terminated and info["tool_episode"]["success"] is False and reward == pytest.approx(0.1)
    finally:
        env.close()


def test_a_rest_state_task_whose_episode_was_evicted_ends_with_a_failed_check(monkeypatch):
    """The hub keeps MAX_EPISODES episodes; a forgotten one cannot be checked, and that must not raise."""
    from tooluse_envs.rest import service

    env = gym.make("tooluse/REST-v0", split="test_ood", reward="mentor")
    try:
        task = next(t for t in env.unwrapped.tasks if t.expected["kind"] == "state")
        actions = reference_actions(task.reference)
        env.reset(options={"task_id": task.id})
        for action in actions[:-1]:
            env.step(action)
        monkeypatch.setattr(service, "MAX_EPISODES", 2)
        client = env.unwrapped.domain.client()
        client.open_episode()
        client.open_episode()  # the hub now holds two newer episodes; this episode was evicted
        _, reward, terminated, _, info = env.step(actions[-1])
        assert terminated and info["tool_episode"]["success"] is False
        assert "could not be read" in info["tool_episode"]["check"]["error"]
    finally:
        env.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f'{{"a": {HUGE_INT_TEXT}}}', "integer of more than 1000 digits"),
        ('{"a": 1' + "0" * 2000 + ".5}", "more than 1100 characters"),
        ('{"a": 1e999}', "out of range"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": ' + "[" * 100 + "]" * 100 + "}", "nested more than 64 levels"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested more than 64 levels"),
        ('{"a": 1,}', "not valid JSON"),
    ],
)
def test_tool_call_json_is_read_within_limits(text, message):
    with pytest.raises(ActionError, match=message):
        load_json(text)
    assert load_json('{"a": [1, 2.5, "\\ud800", null, {"b": true}]}') == {"a": [1, 2.5, "\ud800", None, {"b": True}]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": b"x"}, "a bytes is not JSON (use strings, numbers, booleans, null, lists and objects) at /a"),
        ({"a": [{1, 2}]}, "a set is not JSON (use strings, numbers, booleans, null, lists and objects) at /a/0"),
        ({"a": float("nan")}, "nan is not a JSON number"),
        ({"a": HUGE_INT}, "integer of more than 1000 digits"),
        ({1: "x"}, "object keys must be strings"),
        ({"a": _self_containing_list()}, "nested more than 64 levels"),
    ],
)
def test_message_data_must_be_json(value, message):
    problem = json_problem(value)
    assert problem is not None and message in problem
    assert json_problem({"a": [1, 2.5, "x", None, True, {"b": -(10**999)}]}) is None
