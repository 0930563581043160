"""Rewards from outside ``REWARDS``: a plain number as a reward, ``pkg.module:function`` specs, the entry-point
group ``tooluse_envs.rewards``, and what a reward that returns garbage or raises does at episode end."""

from __future__ import annotations

import functools
import math
import sys
import textwrap
import warnings
from importlib import metadata

import gymnasium as gym
import pytest

import tooluse_envs
from tooluse_envs import rewards
from tooluse_envs.errors import ConfigError
from tooluse_envs.rewards import (
    ENTRY_POINT_GROUP,
    FLOAT_COMPONENT,
    REWARDS,
    CheckedReward,
    RewardError,
    RewardResult,
    get_reward,
    make_reward,
    mentor,
    resolve_reward,
    reward_result,
)

gym.register_envs(tooluse_envs)

PLUGIN = """
calls = []


def half(episode, reference):
    calls.append(getattr(episode, "task_id", None))
    return 0.5


def correct_or_tenth(episode, reference):
    return 1 if episode.correct else 0.1


def bad_nan(episode, reference):
    return float("nan")


def boom(episode, reference):
    raise KeyError("no such thing")


class Scorer:
    @staticmethod
    def score(episode, reference):
        return True


NOT_CALLABLE = 3
"""


@pytest.fixture()
def plugin_pkg(tmp_path, monkeypatch):
    """A package ``myrewards_pkg`` with a ``rewards`` module, on ``sys.path`` only (not installed)."""
    pkg = tmp_path / "plugins" / "myrewards_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "rewards.py").write_text(textwrap.dedent(PLUGIN))
    (pkg / "broken.py").write_text("raise RuntimeError('the plugin is broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    yield tmp_path / "plugins"
    for name in [m for m in sys.modules if m == "myrewards_pkg" or m.startswith("myrewards_pkg.")]:
        del sys.modules[name]


def play_one(reward, answer="\\boxed{3}"):
    """One single-turn Calculator episode scored by ``reward``: (reward, info) at its end."""
    env = gym.make("tooluse/Calculator-v0", reward=reward, max_turns=1)
    env.reset(seed=0)
    _, value, terminated, truncated, info = env.step(f"The answer is {answer}")
    assert terminated or truncated
    env.close()
    return value, info


# --- a plain number is a reward ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(0.5, 0.5), (2, 2.0), (True, 1.0), (False, 0.0), (-1, -1.0)])
def test_a_number_becomes_a_result_with_one_component(value, expected):
    result = reward_result(value, lambda e, r: value)
    assert result == RewardResult(expected, {FLOAT_COMPONENT: expected})
    assert type(result.value) is float and FLOAT_COMPONENT == "reward"


def test_a_numpy_scalar_counts_as_a_number():
    np = pytest.importorskip("numpy")
    assert reward_result(np.float32(0.25), mentor) == RewardResult(0.25, {"reward": 0.25})


def test_a_reward_result_is_kept():
    result = RewardResult(0.7, {"c": 1.0})
    assert reward_result(result, mentor) is result


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (float("nan"), "returned nan (float)"),
        (math.inf, "returned inf (float)"),
        ("1.0", "returned '1.0' (str)"),
        (None, "returned None (NoneType)"),
        ([1.0], "returned [1.0] (list)"),
        (RewardResult(float("nan")), "returned a RewardResult whose value is nan"),
    ],
)
def test_anything_else_is_an_error_naming_the_reward(value, shown):
    def my_reward(episode, reference):
        return value

    with pytest.raises(RewardError, match="my_reward") as exc:
        reward_result(value, my_reward)
    assert shown in str(exc.value) and "\n" not in str(exc.value)
    assert isinstance(exc.value, ConfigError) and isinstance(exc.value, ValueError)


def test_gym_make_takes_a_reward_returning_a_float():
    def fixed(episode, reference):
        return 0.25

    value, info = play_one(fixed)
    assert value == 0.25 and info["reward_components"] == {"reward": 0.25}
    assert "reward_error" not in info["tool_episode"]
    assert get_reward(fixed).fn is fixed  # wrapped, so TRL's caller gets a RewardResult too
    assert get_reward(fixed)(None, None) == RewardResult(0.25, {"reward": 0.25})


@pytest.mark.parametrize(
    ("returned", "error"),
    [
        (float("nan"), "returned nan (float)"),
        (math.inf, "returned inf (float)"),
        ("great", "returned 'great' (str)"),
        (None, "returned None (NoneType)"),
    ],
)
def test_a_bad_value_at_episode_end_scores_zero_and_says_why(returned, error):
    """As with a checker that fails: ending the episode never raises; the error is in the episode summary."""

    def sloppy(episode, reference):
        return returned

    with pytest.warns(RuntimeWarning, match="sloppy"):
        value, info = play_one(sloppy)
    assert value == 0.0 and info["reward_components"] == {}
    message = info["tool_episode"]["reward_error"]
    assert "sloppy" in message and error in message


def test_a_reward_that_raises_at_episode_end_scores_zero_and_says_why():
    def crashing(episode, reference):
        raise ZeroDivisionError("division by zero")

    with pytest.warns(RuntimeWarning, match="crashing raised ZeroDivisionError"):
        value, info = play_one(crashing)
    assert value == 0.0
    assert "crashing raised ZeroDivisionError: division by zero" in info["tool_episode"]["reward_error"]


def test_built_in_rewards_are_unchanged_and_unwrapped():
    for name, fn in REWARDS.items():
        assert resolve_reward(name) == (name, fn) and get_reward(fn) is fn
    partial = make_reward("mentor", teacher_without_tools="match")
    assert get_reward(partial) is partial
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value, info = play_one("outcome")
    assert value in (0.0, 1.0) and "reward_error" not in info["tool_episode"]
    assert not [w for w in caught if "reward" in str(w.message)]


# --- pkg.module:function ----------------------------------------------------------------------------------


def test_a_module_function_spec_is_imported(plugin_pkg):
    name, fn = resolve_reward("myrewards_pkg.rewards:half")
    assert name == "myrewards_pkg.rewards:half" and isinstance(fn, CheckedReward)
    value, info = play_one("myrewards_pkg.rewards:half")
    assert value == 0.5 and info["reward_components"] == {"reward": 0.5}
    assert len(sys.modules["myrewards_pkg.rewards"].calls) == 1
    assert str(plugin_pkg) in rewards.plugin_roots()  # Ray workers get it on their PYTHONPATH
    assert resolve_reward("myrewards_pkg.rewards:Scorer.score")[1](None, None).value == 1.0
    correct, _ = play_one("myrewards_pkg.rewards:correct_or_tenth", answer="\\boxed{nonsense}")
    assert correct == 0.1


def test_a_spec_that_fails_to_load_is_one_line_naming_it(plugin_pkg):
    cases = {
        "no_such_pkg.rewards:fn": "cannot import 'no_such_pkg.rewards' (No module named 'no_such_pkg')",
        "myrewards_pkg.rewards:nope": "module 'myrewards_pkg.rewards' has no attribute 'nope'",
        "myrewards_pkg.rewards:NOT_CALLABLE": "is a int, not a function",
        "myrewards_pkg.broken:fn": "importing 'myrewards_pkg.broken' failed: RuntimeError: the plugin is broken",
        "myrewards_pkg.rewards:": "is not module:function",
        ":half": "is not module:function",
    }
    for spec, expected in cases.items():
        with pytest.raises(RewardError) as exc:
            resolve_reward(spec)
        message = str(exc.value)
        assert expected in message and repr(spec) in message and "\n" not in message, message
    with pytest.raises(ConfigError, match="cannot import 'no_such_pkg"):
        gym.make("tooluse/Calculator-v0", reward="no_such_pkg:fn")


def test_a_bad_plugin_value_at_episode_end_names_the_spec(plugin_pkg):
    with pytest.warns(RuntimeWarning):
        value, info = play_one("myrewards_pkg.rewards:bad_nan")
    assert value == 0.0 and "reward myrewards_pkg.rewards:bad_nan returned nan" in info["tool_episode"]["reward_error"]
    with pytest.warns(RuntimeWarning):
        _, info = play_one("myrewards_pkg.rewards:boom")
    assert "myrewards_pkg.rewards:boom raised KeyError" in info["tool_episode"]["reward_error"]


def test_an_unknown_name_lists_the_choices():
    with pytest.raises(RewardError, match=r"unknown reward 'mentr'; choose one of outcome, .*pkg.module:function"):
        resolve_reward("mentr")
    with pytest.raises(ConfigError, match="unknown reward 'mypkg:fn': make_reward takes a built-in"):
        make_reward("mypkg:fn", out_of_turns="no_answer")


# --- entry points -----------------------------------------------------------------------------------------


def write_dist(root, entry_points: str) -> None:
    """A minimal installed distribution (``*.dist-info`` with METADATA and entry_points.txt) under ``root``."""
    info = root / "myrewards_dist-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myrewards-dist\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{textwrap.dedent(entry_points)}")


def test_an_installed_entry_point_resolves(plugin_pkg):
    write_dist(
        plugin_pkg,
        """\
        half_of_it = myrewards_pkg.rewards:half
        gone = myrewards_pkg.nowhere:fn
        mentor = myrewards_pkg.rewards:half
        """,
    )
    assert rewards.reward_plugins()["half_of_it"] == "myrewards_pkg.rewards:half"
    name, fn = resolve_reward("half_of_it")
    assert name == "myrewards_pkg.rewards:half"  # what is saved is the code's import path, not the name
    assert fn(None, None) == RewardResult(0.5, {"reward": 0.5})
    value, _ = play_one("half_of_it")
    assert value == 0.5
    assert resolve_reward("mentor") == ("mentor", REWARDS["mentor"])  # a plugin cannot shadow a built-in
    with pytest.raises(RewardError) as exc:
        resolve_reward("gone")
    message = str(exc.value)
    assert "'gone'" in message and "myrewards_pkg.nowhere:fn" in message and "cannot import" in message
    with pytest.raises(RewardError, match=r"an installed one \(gone, half_of_it, mentor\)"):
        resolve_reward("nothing_like_it")


def test_entry_points_are_looked_up_in_their_group(monkeypatch, plugin_pkg):
    seen = []

    def fake_entry_points(**kwargs):
        seen.append(kwargs)
        ep = metadata.EntryPoint("tenth", "myrewards_pkg.rewards:correct_or_tenth", ENTRY_POINT_GROUP)
        return metadata.EntryPoints([ep])

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    assert resolve_reward("tenth")[0] == "myrewards_pkg.rewards:correct_or_tenth"
    assert seen == [{"group": "tooluse_envs.rewards"}]


def test_a_partial_of_a_plugin_is_checked_too(plugin_pkg):
    fn = resolve_reward("myrewards_pkg.rewards:half")[1]
    wrapped = get_reward(functools.partial(lambda e, r, k: k, k="x"))
    assert isinstance(wrapped, CheckedReward) and isinstance(fn, CheckedReward)
    with pytest.raises(RewardError, match="returned 'x'"):
        wrapped(None, None)
