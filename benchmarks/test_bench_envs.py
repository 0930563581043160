"""Env throughput with the teacher's reference actions: reset + every step of an episode.

Steps/s = steps per episode / mean episode time; it lands in the benchmark's ``extra_info``.
Run: ``make bench`` (or ``pytest benchmarks/test_bench_envs.py --benchmark-only``).
"""

from __future__ import annotations

import gymnasium as gym
import pytest
from bench_utils import record_rate

import tooluse_envs
from tooluse_envs.oracle import reference_actions

EPISODES = 200


def _episodes(env_id: str) -> tuple[gym.Env, list[tuple[str, list[str]]]]:
    env = gym.make(env_id, split="test_id", reward="mentor")
    tasks = env.unwrapped.tasks
    tasks = tasks[:: max(1, len(tasks) // EPISODES)][:EPISODES]  # spread over the split (Mixed: every domain)
    return env, [(task.id, reference_actions(task.reference)) for task in tasks]


def _play_all(env: gym.Env, scripted: list[tuple[str, list[str]]]) -> int:
    steps = 0
    for task_id, actions in scripted:
        env.reset(options={"task_id": task_id})
        for action in actions:
            steps += 1
            if env.step(action)[2]:
                break
    return steps


@pytest.mark.parametrize("env_id", sorted(tooluse_envs.ENV_IDS))
def test_reference_episode_throughput(benchmark, env_id):
    benchmark.group = "env steps (reset + reference steps)"
    env, scripted = _episodes(env_id)
    steps = _play_all(env, scripted)  # warm caches (task files, template databases)
    benchmark.pedantic(_play_all, args=(env, scripted), rounds=5, iterations=1)
    benchmark.extra_info["steps_per_round"] = steps
    record_rate(benchmark, "steps_per_s", steps)
