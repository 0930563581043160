"""The envs with Gymnasium's (and SB3's) machinery: vector envs, episode-statistics wrappers, specs.

* ``UnicodeText`` flattens and crosses ``AsyncVectorEnv``'s shared memory for any Unicode string (the
  stock ``Text`` helpers raised ``KeyError`` on a character outside its charset, and read the shared
  buffer once, so every later observation was the first, empty one).
* The env's summary is ``info["tool_episode"]``: ``info["episode"]`` belongs to ``RecordEpisodeStatistics``
  and SB3's ``Monitor``, which assert that it is free at the end of an episode.
* ``make_env`` envs carry a registered spec, so they vectorise by id.
"""

from __future__ import annotations

import copy
import multiprocessing as mp
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.spaces.utils import flatdim, flatten, flatten_space, unflatten
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory
from gymnasium.wrappers import RecordEpisodeStatistics
from gymnasium.wrappers.vector import RecordEpisodeStatistics as VectorRecordEpisodeStatistics

from tooluse_envs import make_env
from tooluse_envs.env import MAX_OBSERVATION_CHARS, ToolUseEnv
from tooluse_envs.errors import ConfigError
from tooluse_envs.oracle import reference_actions
from tooluse_envs.spaces import SharedTextBatch, UnicodeText


@pytest.fixture(autouse=True)
def forget_registered_ids():
    """Ids a test registers (make_env's) are removed after it, so no other test sees them."""
    before = set(gym.registry)
    yield
    for env_id in set(gym.registry) - before:
        del gym.registry[env_id]


ODD_STRINGS = [
    "",
    "plain ascii",
    "$ 12.50 × 3 = 37.50 € — ça va? 你好 😀",  # '$' was Text's first KeyError on Calculator
    "nul \x00 inside, and at the end \x00",
    "lone surrogates \ud800 \udfff",
    "\U0010ffff",  # the last code point
    "tabs\tand\r\nnewlines\n",
]


# -- UnicodeText on its own -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ODD_STRINGS)
def test_unicode_text_flattens_and_unflattens_any_string(text):
    space = UnicodeText(64)
    flat = flatten(space, text)
    assert flat.shape == (flatdim(space),) == (64,) and flat.dtype == np.int32
    assert flatten_space(space).contains(flat)
    assert unflatten(space, flat) == text


def test_unicode_text_flatten_bounds():
    space = UnicodeText(5)
    assert unflatten(space, flatten(space, "ü" * 5)) == "ü" * 5  # exactly max_length: no padding left
    with pytest.raises(ValueError, match="does not fit"):
        flatten(space, "x" * 6)
    assert space == UnicodeText(5) and space != UnicodeText(6) and space != gym.spaces.Text(5)


def test_unicode_text_shared_memory_is_a_live_view():
    space = UnicodeText(40)
    buffer = create_shared_memory(space, n=len(ODD_STRINGS), ctx=mp)
    view = read_from_shared_memory(space, buffer, n=len(ODD_STRINGS))
    assert isinstance(view, SharedTextBatch) and tuple(view) == ("",) * len(ODD_STRINGS)
    for i, text in enumerate(ODD_STRINGS):
        write_to_shared_memory(space, i, text, buffer)
    assert tuple(view) == tuple(ODD_STRINGS) and view == list(ODD_STRINGS)  # read now, not when made
    write_to_shared_memory(space, 1, "shorter", buffer)  # a shorter string leaves no tail of the old one
    assert view[1] == "shorter" and view[-1] == ODD_STRINGS[-1] and view[1:3] == ("shorter", ODD_STRINGS[2])
    for snapshot in (copy.deepcopy(view), copy.copy(view), pickle.loads(pickle.dumps(view))):
        assert type(snapshot) is tuple and snapshot == tuple(view)
    with pytest.raises(ValueError, match="does not fit"):
        write_to_shared_memory(space, 0, "x" * 41, buffer)


# -- vector envs ----------------------------------------------------------------------------------------

ODD_NAME = '<tool_call>{"name": "wörk_€_😀_$", "arguments": {}}</tool_call>'
SCRIPTS = {
    # an unknown tool with a non-ASCII name (echoed in the observation), an answer, then the autoreset step
    "tooluse/Calculator-v0": [ODD_NAME, "The answer is \\boxed{42} — voilà 😀", "(autoreset)", ODD_NAME],
    "tooluse/Code-v0": [
        '<tool_call>{"name": "python", "arguments": {"code": "print(\'héllo wörld ✓ 😀 $ \' + chr(0x20ac) * 3)"}}'
        "</tool_call>",
        ODD_NAME,
        "\\boxed{7} ✓",
        "(autoreset)",
    ],
}
VECTOR_MODES = {
    "sync": lambda fns: SyncVectorEnv(fns),
    "async-shared": lambda fns: AsyncVectorEnv(fns, shared_memory=True),
    "async-pipes": lambda fns: AsyncVectorEnv(fns, shared_memory=False),
}


def _play_vector(env_id: str, mode: str) -> list:
    kwargs = {"split": "test_id", "reward": "mentor"} | ({"pool_size": 2} if env_id == "tooluse/Code-v0" else {})
    envs = VECTOR_MODES[mode]([lambda: gym.make(env_id, **kwargs) for _ in range(2)])
    try:
        obs, info = envs.reset(seed=11)
        out = [tuple(obs), tuple(info["task_id"])]
        for action in SCRIPTS[env_id]:
            obs, reward, terminated, truncated, info = envs.step((action, action))
            assert type(obs) is tuple and all(isinstance(o, str) for o in obs), type(obs)
            out.append((tuple(obs), reward.tolist(), terminated.tolist(), truncated.tolist(), _successes(info)))
        return out
    finally:
        envs.close()


def _successes(info: dict) -> list:
    """Each env's ``tool_episode["success"]`` in a vector info (None for an env whose episode did not end)."""
    if "tool_episode" not in info:
        return [None, None]
    # vector envs merge dict values key by key: info["tool_episode"]["success"] is an array over the envs
    ended = zip(info["tool_episode"]["success"], info["_tool_episode"], strict=True)
    return [bool(success) if done else None for success, done in ended]


@pytest.mark.parametrize("env_id", sorted(SCRIPTS))
def test_sync_and_async_vector_envs_see_the_same_text(env_id):
    runs = {mode: _play_vector(env_id, mode) for mode in VECTOR_MODES}
    reference = runs["sync"]
    text = [o for step in reference[2:] for o in step[0]]
    assert any(not o.isascii() for o in text), text  # non-ASCII observations were crossed
    assert all(len(o) < MAX_OBSERVATION_CHARS for step in reference[2:] for o in step[0])
    assert any(step[2][0] for step in reference[2:]), "the script should end an episode"
    for mode, run in runs.items():
        assert run == reference, mode


def test_make_vec_async_default_shared_memory_on_calculator():
    envs = gym.make_vec("tooluse/Calculator-v0", num_envs=2, vectorization_mode="async", split="test_id")
    try:
        assert envs.shared_memory
        obs, info = envs.reset(seed=3)
        questions = tuple(gym.make("tooluse/Calculator-v0", split="test_id").reset(seed=s)[0] for s in (3, 4))
        assert obs == questions and all(len(o) > 0 for o in obs)
        obs, *_ = envs.step((ODD_NAME, ODD_NAME))
        assert all("wörk_€_😀_$" in o for o in obs), obs
    finally:
        envs.close()


# -- the episode key and the statistics wrappers ------------------------------------------------------------


def _tasks_by_id(env_id: str) -> dict:
    env = gym.make(env_id, split="test_id")
    return {task.id: task for task in env.unwrapped.tasks}


def test_reading_info_episode_from_the_env_names_the_new_key():
    env = gym.make("tooluse/Calculator-v0", split="test_id")
    env.reset(seed=0)
    *_, terminated, _, info = env.step("\\boxed{0}")
    assert terminated and "tool_episode" in info and "episode" not in info and info.get("episode") is None
    with pytest.raises(KeyError, match="tool_episode"):
        info["episode"]


@pytest.mark.parametrize("reward", ["outcome", "mentor"])
def test_record_episode_statistics_single_env(reward):
    env = RecordEpisodeStatistics(gym.make("tooluse/Calculator-v0", split="test_id", reward=reward))
    tasks = list(_tasks_by_id("tooluse/Calculator-v0").values())[:3]
    for task in tasks:
        env.reset(options={"task_id": task.id})
        actions = reference_actions(task.reference)
        total, steps = 0.0, 0
        for action in actions:
            _, r, terminated, truncated, info = env.step(action)
            total, steps = total + r, steps + 1
            if terminated or truncated:
                break
        assert steps == len(actions) and terminated
        assert info["tool_episode"]["success"] is True
        assert info["episode"]["r"] == pytest.approx(total) == pytest.approx(1.0 if reward == "outcome" else 1.1)
        assert info["episode"]["l"] == len(actions) and info["episode"]["t"] >= 0
    assert list(env.length_queue) == [len(reference_actions(t.reference)) for t in tasks]
    env.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_record_episode_statistics_vector_env(mode):
    env_id = "tooluse/Calculator-v0"
    tasks = _tasks_by_id(env_id)
    envs = VectorRecordEpisodeStatistics(
        gym.make_vec(env_id, num_envs=2, vectorization_mode=mode, split="test_id", reward="outcome")
    )
    try:
        _, info = envs.reset(seed=5)
        scripts = [reference_actions(tasks[tid].reference) for tid in info["task_id"]]
        stats: dict[int, tuple[float, int]] = {}
        ends: dict[int, tuple[bool, bool]] = {}
        for t in range(max(map(len, scripts))):
            actions = tuple(s[t] if t < len(s) else "(autoreset or a new episode)" for s in scripts)
            _, _, terminated, _, info = envs.step(actions)
            for i in range(2):
                if t == len(scripts[i]) - 1:
                    ends[i] = (bool(terminated[i]), _successes(info)[i])
                if "episode" in info and info["_episode"][i] and i not in stats:
                    stats[i] = (float(info["episode"]["r"][i]), int(info["episode"]["l"][i]))
        assert ends == {0: (True, True), 1: (True, True)}
        assert stats == {i: (1.0, len(scripts[i])) for i in range(2)}
    finally:
        envs.close()


def test_sb3_monitor():
    monitor = pytest.importorskip("stable_baselines3.common.monitor", reason="stable_baselines3 is not installed")
    env = monitor.Monitor(gym.make("tooluse/Calculator-v0", split="test_id", reward="mentor"))
    tasks = list(_tasks_by_id("tooluse/Calculator-v0").values())[:2]
    for task in tasks:
        env.reset(options={"task_id": task.id})
        for action in reference_actions(task.reference):
            _, _, terminated, truncated, info = env.step(action)
        assert terminated and info["tool_episode"]["success"] is True
        length = len(reference_actions(task.reference))
        assert info["episode"]["r"] == pytest.approx(1.1) and info["episode"]["l"] == length
    assert env.get_episode_rewards() == pytest.approx([1.1, 1.1])
    env.close()


# -- make_env specs -------------------------------------------------------------------------------------------


def get_price(item: str, quantity: int = 1) -> float:
    """Price of some units of an item, in dollars.

    Args:
        item: The item's name.
        quantity: How many units.
    """
    return {"apple": 0.5, "pear": 0.75}[item] * quantity


TASKS = [
    {
        "id": "apples",
        "question": "What do 4 apples cost?",
        "answer": 2,
        "reference": [("get_price", {"item": "apple", "quantity": 4})],
    },
    {
        "id": "pear",
        "question": "What costs 0.75 dollars?",
        "answer": 0.75,
        "reference": [("get_price", {"item": "pear"})],
    },
]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_env_has_a_spec_that_vectorises(mode):
    env = make_env(tools=[get_price], tasks=TASKS, reward="mentor", max_turns=3)
    assert isinstance(env, ToolUseEnv) and env.spec is not None
    assert env.spec.id in gym.registry and env.spec.kwargs == {"reward": "mentor", "max_turns": 3}
    again = make_env(tools=[get_price], tasks=TASKS)
    assert again.spec.id != env.spec.id  # each call its own generated id
    envs = gym.make_vec(env.spec.id, num_envs=2, vectorization_mode=mode)
    try:
        _, info = envs.reset(seed=0)
        by_id = {t["id"]: t for t in TASKS}
        actions = [tuple(reference_actions(_reference(by_id[tid]))[t] for tid in info["task_id"]) for t in range(2)]
        envs.step(actions[0])
        _, reward, terminated, _, info = envs.step(actions[1])
        assert terminated.all() and reward.tolist() == pytest.approx([1.1, 1.1])
        assert _successes(info) == [True, True]
    finally:
        envs.close()


def _reference(task: dict):
    from tooluse_envs.custom import task_from_dict

    return task_from_dict(task, ["get_price"]).reference


def test_make_env_under_a_given_id():
    env = make_env(tools=[get_price], tasks=TASKS, env_id="shop/Prices-v0", max_turns=2)
    assert env.spec.id == "shop/Prices-v0"
    made = gym.make("shop/Prices-v0")
    assert made.unwrapped.max_turns == 2 and made.unwrapped is not env
    replaced = make_env(tools=[get_price], tasks=TASKS[:1], env_id="shop/Prices-v0")  # re-running a cell
    assert [t.id for t in gym.make(replaced.spec.id).unwrapped.tasks] == ["apples"]
    with pytest.raises(ConfigError, match="already registered"):
        make_env(tools=[get_price], tasks=TASKS, env_id="tooluse/Calculator-v0")
    with pytest.raises(ConfigError):
        make_env(tools=[get_price], tasks=[], env_id="shop/Empty-v0")
    assert "shop/Empty-v0" not in gym.registry  # a failed make_env leaves no id behind
    with pytest.raises(ConfigError):
        make_env(tools=[get_price], tasks=[], env_id="shop/Prices-v0")
    assert [t.id for t in gym.make("shop/Prices-v0").unwrapped.tasks] == ["apples"]  # nor drops the old one
