"""Env throughput with the teacher's reference actions: reset + every step of an episode.

Steps/s = steps per episode / mean episode time; it lands in the benchmark's ``extra_info``. One more
case times the answer checks on a 1 MB adversarial ``\\boxed{}`` (linear-time parsing, bounded sizes).
Run: ``make bench`` (or ``pytest benchmarks/test_bench_envs.py --benchmark-only``).
"""

from __future__ import annotations

import gymnasium as gym
import pytest
from bench_utils import record_rate

import tooluse_envs
from tooluse_envs.domain import check_answer
from tooluse_envs.oracle import reference_actions
from tooluse_envs.parsing import extract_boxed

EPISODES = 200
# "1eee...e!" made the number-with-unit pattern backtrack over every split of the run (12 s at 20k chars)
ADVERSARIAL_ANSWER = "The answer is \\boxed{1" + "e" * (1 << 20) + "!}."
EXPECTED = (
    {"kind": "number", "answer": 1.0},
    {"kind": "number", "answer": 1.0, "decimals": 2},
    {"kind": "text", "answer": ["one"]},
    {"kind": "rows", "answer": [1, "e"]},
)


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


def _check_adversarial_answer() -> bool:
    answer = extract_boxed(ADVERSARIAL_ANSWER)
    return any(check_answer(expected, answer).correct for expected in EXPECTED)


def test_adversarial_answer_check(benchmark):
    benchmark.group = "answer check (1 MB adversarial \\boxed{})"
    assert benchmark(_check_adversarial_answer) is False
