"""Registers the environments and parametrizes env-generic tests over every registered id."""

from __future__ import annotations

import sys

import gymnasium as gym
import pytest

import tooluse_envs

gym.register_envs(tooluse_envs)


@pytest.fixture(params=sorted(tooluse_envs.ENV_IDS))
def env_id(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(autouse=True)
def no_ray_cluster_left_running():
    """A test that starts Ray must stop it: a cluster left running makes the next module's ``ray.init`` fail,
    and the error would land on an innocent test."""
    ray = sys.modules.get("ray")
    running_before = ray is not None and ray.is_initialized()
    yield
    ray = sys.modules.get("ray")
    if not running_before and ray is not None and ray.is_initialized():
        ray.shutdown()
        pytest.fail("this test left a Ray cluster running; call ray.shutdown() when it is done")
