"""Registers the environments and parametrizes env-generic tests over every registered id."""

from __future__ import annotations

import gymnasium as gym
import pytest

import tooluse_envs

gym.register_envs(tooluse_envs)


@pytest.fixture(params=sorted(tooluse_envs.ENV_IDS))
def env_id(request: pytest.FixtureRequest) -> str:
    return request.param
