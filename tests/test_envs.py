"""The contract every registered environment keeps, whatever its domain."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from tooluse_envs.errors import ConfigError, ResetNeeded
from tooluse_envs.oracle import play_reference
from tooluse_envs.tasks import SPLITS


def call_first_tool(env: gym.Env) -> str:
    """A call of the current task's first tool without arguments (valid or not, it is not an answer)."""
    name = next(iter(env.unwrapped.domain.task_tools(env.unwrapped.task)))
    return f'<tool_call>{{"name": "{name}", "arguments": {{}}}}</tool_call>'


@pytest.mark.parametrize("split", SPLITS)
def test_passes_gymnasium_check_env(env_id, split):
    env = gym.make(env_id, split=split)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("split", SPLITS)
def test_reference_of_every_task_succeeds(env_id, split):
    env = gym.make(env_id, split=split, reward="outcome")
    tasks = env.unwrapped.tasks
    if env_id == "tooluse/Mixed-v0":
        # Mixed's tasks are its parts' tasks, each replayed in full by its own env; a tenth checks the routing.
        tasks = tasks[::10]
    failures = []
    for task in tasks:
        reward, info = play_reference(env, task.id)
        if reward != 1.0:
            failures.append((task.id, info.get("tool_episode")))
    env.close()
    assert not failures, f"{len(failures)} references fail, first: {failures[:2]}"


MALFORMED = {
    "empty": "",
    "bad json": "<tool_call>{'name': 'x',}</tool_call>",
    "unknown tool": '<tool_call>{"name": "launch_missiles", "arguments": {}}</tool_call>',
    "schema violation": '<tool_call>{"name": "%s", "arguments": {"no_such_argument": [1, 2, 3]}}</tool_call>',
    "one megabyte": "<tool_call>" + "{" * 500_000 + "}" * 500_000 + "</tool_call>",
    "lone surrogates": '<tool_call>{"name": "\ud800", "arguments": {"x": "\udfff"}}</tool_call>',
    "many calls": '<tool_call>{"name": "%s", "arguments": {}}</tool_call>' * 200,
    "not text": 12345,
    "unclosed": '<tool_call>{"name": "%s", "arguments": {}',
    "openai junk": {"role": "assistant", "tool_calls": [{"function": "nope"}, 7]},
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_actions_get_an_observation_not_an_exception(env_id, kind):
    env = gym.make(env_id, split="test_id", reward="mentor")
    _, info = env.reset(seed=3)
    action = MALFORMED[kind]
    if isinstance(action, str) and "%s" in action:
        action = action.replace("%s", info["tools"][0]["function"]["name"])
    single_turn = env.unwrapped.domain.single_turn
    obs, reward, terminated, truncated, info = env.step(action)
    assert isinstance(obs, str) and isinstance(reward, float)
    if kind == "empty":
        assert terminated
        if not single_turn:  # in a single-turn domain (BFCL irrelevance) an empty reply can be right
            assert "No \\boxed{} answer" in obs
            assert info["tool_episode"]["success"] is False and reward == pytest.approx(0.1)
        return
    # the first turn of a single-turn domain ends the episode, malformed or not (but for a non-text action)
    assert terminated == (single_turn and kind != "not text") and obs.count("Error") >= 1, obs[:300]
    assert len(obs) < 200_000
    if terminated:
        episode_calls = info["tool_episode"]["tool_calls"]
    else:
        episode_calls = [vars(c) for c in env.unwrapped._record.tool_calls]
    assert episode_calls and not all(c["valid"] for c in episode_calls)
    if kind == "many calls":
        refused = [c for c in episode_calls if c["error"] is not None and "too many" in c["error"]]
        assert len(episode_calls) == 200 and len(refused) == 184
    if not terminated:
        env.step("giving up \\boxed{0}")
    env.close()


def test_same_seed_reproduces_the_same_episode(env_id):
    def trajectory(seed: int) -> list:
        env = gym.make(env_id, split="train", reward="mentor")
        obs, info = env.reset(seed=seed)
        out = [obs, info["task_id"]]
        for _ in range(3):
            obs, reward, terminated, truncated, info = env.step(call_first_tool(env))
            out += [obs, reward, terminated, truncated]
            if terminated or truncated:
                break
        follow = env.reset()[1]["task_id"]  # the env's RNG continues deterministically
        env.close()
        return out + [follow]

    assert trajectory(7) == trajectory(7)
    assert trajectory(7)[1] != trajectory(8)[1] or trajectory(7)[-1] != trajectory(8)[-1]


def test_reset_exposes_tools_messages_and_reference_only_when_asked(env_id):
    env = gym.make(env_id, split="test_id", expose_reference=True)
    obs, info = env.reset(seed=0)
    assert info["messages"][-1] == {"role": "user", "content": obs}
    assert all(t["type"] == "function" and t["function"]["parameters"]["type"] == "object" for t in info["tools"])
    assert set(info["reference"]) >= {"tool_calls", "answer"}
    assert "reference" not in gym.make(env_id, split="test_id").reset(seed=0)[1]


def test_episode_info_and_reward_components_at_the_end(env_id):
    env = gym.make(env_id, split="test_id", reward="mentor")
    task_id = env.unwrapped.tasks[0].id
    reward, info = play_reference(env, task_id)
    assert reward == pytest.approx(1.1)
    episode = info["tool_episode"]
    assert episode["success"] is True and episode["invalid_calls"] == 0
    assert len(episode["tool_calls"]) == len(env.unwrapped.task.reference.tool_calls)
    assert all(call.keys() >= {"name", "arguments", "valid", "error"} for call in episode["tool_calls"])
    assert info["reward_components"] == {"c": 1.0, "m": 1.0, "h": 1.0}
    json.dumps(episode)  # JSON-ready


def test_cut_off_turn_ends_with_zero_mentor_reward(env_id):
    env = gym.make(env_id, split="test_id", reward="mentor")
    env.reset(seed=1)
    obs, reward, terminated, _, info = env.step(
        {"role": "assistant", "content": "\\boxed{4", "finish_reason": "length"}
    )
    assert terminated and reward == 0.0 and "cut off" in obs and info["tool_episode"]["ended_with_eos"] is False


def test_max_turns_truncates(env_id):
    env = gym.make(env_id, split="test_id", max_turns=2, reward="mentor")
    _, info = env.reset(seed=1)
    call = call_first_tool(env)
    if env.unwrapped.domain.single_turn:  # the first turn ends the episode: max_turns never applies
        assert env.step(call)[2:4] == (True, False)
        return
    assert env.step(call)[2:4] == (False, False)
    _, reward, terminated, truncated, info = env.step(call)
    assert (terminated, truncated) == (False, True) and info["tool_episode"]["truncated"]
    assert reward == 0.0  # out of turns: the sequence never ended with EOS (the MENTOR authors' code)
    with pytest.raises(ResetNeeded):
        env.step("\\boxed{1}")


def test_bad_arguments_are_refused_clearly(env_id):
    with pytest.raises(ConfigError, match="unknown split"):
        gym.make(env_id, split="validation")
    with pytest.raises(ConfigError, match="unknown reward"):
        gym.make(env_id, reward="mentr")
    with pytest.raises(ConfigError, match="unknown task ids"):
        gym.make(env_id, task_ids=["nope"])


def test_an_env_whose_reset_raised_still_plays_the_next_episode(env_id):
    """A refused reset (unknown task id) must not poison the env: Gymnasium's passive checker used to."""
    env = gym.make(env_id, split="test_ood")
    with pytest.raises(ConfigError, match="no-such-task"):
        env.reset(options={"task_id": "no-such-task"})
    env.reset(seed=0)
    _, _, terminated, truncated, _ = env.step("\\boxed{1}")
    assert terminated or truncated
    env.close()


def test_make_without_importing_the_package_first():
    code = (
        "import sys, gymnasium as gym\n"
        "env = gym.make('tooluse_envs:tooluse/Calculator-v0', split='test_ood')\n"
        "obs, info = env.reset(seed=0)\n"
        "heavy = [m for m in ('torch', 'transformers', 'sandbox') if m in sys.modules]\n"
        "print(len(info['tools']) == len(env.unwrapped.task.tools) >= 12, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True []"


def test_importing_the_package_is_cheap():
    code = "import sys, tooluse_envs; print(sorted(m for m in sys.modules if m.startswith('tooluse_envs.domains')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
