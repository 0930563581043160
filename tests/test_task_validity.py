"""Whether the task sets can tell distillation methods apart: varied teacher strategies with verified
alternatives, no train computation repeated in test_id, out-of-domain tasks tagged by the one axis they
change, and exact answers."""

from __future__ import annotations

import gymnasium as gym
import pytest

from tooluse_envs import registry
from tooluse_envs.oracle import play_reference
from tooluse_envs.task_stats import axis_counts, leaked_computations, strategy_stats
from tooluse_envs.tasks import SPLITS, load_tasks

GENERATED_DOMAINS = registry.generated_domains()
# share of tasks with a correct alternative that uses another tool set than the teacher's
ALTERNATIVE_TARGETS = {"calculator": 0.30, "sql": 0.20, "rest": 0.20, "code": 0.20}
OOD_AXES_MIN = 3
TASKS_PER_AXIS_MIN = 100


@pytest.mark.parametrize("domain", GENERATED_DOMAINS)
def test_no_test_id_task_repeats_a_train_computation(domain):
    leaked = leaked_computations(load_tasks(domain, "train"), load_tasks(domain, "test_id"))
    assert not leaked, f"{len(leaked)} test_id tasks compute what a train task does, e.g. {leaked[:3]}"


@pytest.mark.parametrize("domain", sorted(ALTERNATIVE_TARGETS))
def test_teacher_strategy_varies_within_templates_and_alternatives_exist(domain):
    for split in SPLITS:
        stats = strategy_stats(load_tasks(domain, split))
        assert stats.with_alternative >= ALTERNATIVE_TARGETS[domain], (split, stats)
        assert stats.templates_with_varied_teacher >= 1, (split, stats)


@pytest.mark.parametrize("domain", sorted(GENERATED_DOMAINS))
@pytest.mark.parametrize("split", SPLITS)
def test_every_alternative_strategy_is_correct(domain, split):
    env = gym.make(registry.info(domain).env_id, split=split, reward="outcome")
    failures, replayed = [], 0
    for task in env.unwrapped.tasks:
        for alternative in task.reference.alternatives:
            replayed += 1
            reward, info = play_reference(env, task.id, alternative)
            if reward != 1.0:
                failures.append((task.id, alternative.strategy, info.get("tool_episode")))
    env.close()
    assert not failures, f"{len(failures)} of {replayed} alternatives fail, first: {failures[:2]}"


@pytest.mark.parametrize("domain", sorted(GENERATED_DOMAINS))
def test_every_ood_task_names_its_axis_and_each_axis_is_large_enough(domain):
    counts = axis_counts(load_tasks(domain, "test_ood"))
    assert "-" not in counts, f"{counts['-']} test_ood tasks have no axis:<name> tag"
    assert len(counts) >= OOD_AXES_MIN, counts
    small = {axis: n for axis, n in counts.items() if n < TASKS_PER_AXIS_MIN}
    assert not small, f"axes with fewer than {TASKS_PER_AXIS_MIN} tasks: {small}"


@pytest.mark.parametrize("domain", GENERATED_DOMAINS)
def test_every_number_answer_states_its_precision(domain):
    loose = [
        task.id
        for split in SPLITS
        for task in load_tasks(domain, split)
        if task.expected["kind"] == "number" and "decimals" not in task.expected
    ]
    assert not loose, f"{len(loose)} number tasks without expected.decimals, e.g. {loose[:3]}"
