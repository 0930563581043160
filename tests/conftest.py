"""Shared fixtures: the registered env ids and a helper to play a task's reference."""

from __future__ import annotations

import gymnasium as gym
import pytest

import tooluse_envs
from tooluse_envs.oracle import reference_actions

gym.register_envs(tooluse_envs)

# Env ids whose domains ship their task files; every one of them goes through the shared env tests.
ENV_IDS = sorted(tooluse_envs.ENV_IDS)
SPLITS = ("train", "test_id", "test_ood")


def play_reference(env: gym.Env, task_id: str) -> tuple[float, dict]:
    """Reset to ``task_id`` and replay its reference; returns the final reward and info."""
    _, info = env.reset(options={"task_id": task_id})
    task = env.unwrapped.task
    reward, info = 0.0, info
    for action in reference_actions(task.reference):
        _, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return reward, info
    raise AssertionError(f"{task_id}: the reference did not end the episode")


@pytest.fixture(params=ENV_IDS)
def env_id(request: pytest.FixtureRequest) -> str:
    return request.param
