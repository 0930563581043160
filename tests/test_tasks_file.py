"""``gym.make(<id>, tasks_file=PATH)``: a task file replaces the domain's split, in every built-in domain."""

from __future__ import annotations

import dataclasses
import json

import gymnasium as gym
import pytest

import tooluse_envs
from tooluse_envs.errors import ConfigError, TaskError
from tooluse_envs.oracle import play_reference
from tooluse_envs.tasks import write_tasks

gym.register_envs(tooluse_envs)

SINGLE_DOMAIN_IDS = [env_id for env_id, domain in tooluse_envs.ENV_IDS.items() if domain != "mixed"]


def _sample_tasks(env_id: str, count: int = 3) -> list:
    """A few tasks spread over the domain's test_id split (context, files and databases included)."""
    env = gym.make(env_id, split="test_id")
    tasks = env.unwrapped.tasks
    env.close()
    step = max(1, len(tasks) // count)
    return list(tasks[::step][:count])


@pytest.mark.parametrize("env_id", SINGLE_DOMAIN_IDS)
def test_a_task_file_replaces_the_split_and_its_references_replay(env_id, tmp_path):
    tasks = _sample_tasks(env_id)
    path = tmp_path / "tasks.jsonl"
    write_tasks(tasks, path)
    env = gym.make(env_id, tasks_file=str(path), reward="outcome")
    try:
        assert [t.id for t in env.unwrapped.tasks] == [t.id for t in tasks]
        for task in tasks:
            reward, info = play_reference(env, task.id)
            assert reward == 1.0, info.get("tool_episode")
        _, info = env.reset(seed=0)
        assert info["task_id"] in {t.id for t in tasks}  # seeded draws come from the file too
    finally:
        env.close()


def test_a_file_of_another_domain_is_refused_with_both_domains_named(tmp_path):
    path = tmp_path / "sql.jsonl"
    write_tasks(_sample_tasks("tooluse/SQL-v0", 1), path)
    with pytest.raises(ConfigError, match=r"domain\(s\) sql; this env runs calculator"):
        gym.make("tooluse/Calculator-v0", tasks_file=path)


def test_mixed_accepts_its_parts_tasks_and_routes_each_to_its_domain(tmp_path):
    tasks = _sample_tasks("tooluse/Calculator-v0", 2) + _sample_tasks("tooluse/SQL-v0", 2)
    path = tmp_path / "mixed.jsonl"
    write_tasks(tasks, path)
    env = gym.make("tooluse/Mixed-v0", tasks_file=path)
    assert all(play_reference(env, task.id)[0] == 1.0 for task in tasks)
    env.close()
    search = tmp_path / "search.jsonl"
    write_tasks(_sample_tasks("tooluse/Search-v0", 1), search)
    with pytest.raises(ConfigError, match="search"):
        gym.make("tooluse/Mixed-v0", tasks_file=search)


def test_a_task_offering_a_tool_the_domain_lacks_is_refused_at_make(tmp_path):
    (task,) = _sample_tasks("tooluse/Calculator-v0", 1)
    path = tmp_path / "bad.jsonl"
    write_tasks([dataclasses.replace(task, tools=(*task.tools, "launch_missiles"))], path)
    with pytest.raises(TaskError, match="launch_missiles"):
        gym.make("tooluse/Calculator-v0", tasks_file=path)


def test_schema_violations_name_the_file_and_line(tmp_path):
    (task,) = _sample_tasks("tooluse/Calculator-v0", 1)
    good = task.to_dict()
    bad = {**good, "id": "calculator/train/x2", "expected": {"kind": "guess"}}
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(TaskError, match=r"broken.jsonl:2 .*expected/kind"):
        gym.make("tooluse/Calculator-v0", tasks_file=path)


def test_repeated_ids_and_missing_files_are_refused(tmp_path):
    (task,) = _sample_tasks("tooluse/Calculator-v0", 1)
    path = tmp_path / "twice.jsonl"
    write_tasks([task, task], path)
    with pytest.raises(ConfigError, match="repeats task ids"):
        gym.make("tooluse/Calculator-v0", tasks_file=path)
    with pytest.raises(TaskError, match="no task file"):
        gym.make("tooluse/Calculator-v0", tasks_file=tmp_path / "absent.jsonl")


def test_task_ids_select_within_the_file_and_an_edited_file_is_read_again(tmp_path):
    tasks = _sample_tasks("tooluse/Calculator-v0", 3)
    path = tmp_path / "tasks.jsonl"
    write_tasks(tasks, path)
    env = gym.make("tooluse/Calculator-v0", tasks_file=path, task_ids=[tasks[2].id])
    assert [t.id for t in env.unwrapped.tasks] == [tasks[2].id]
    with pytest.raises(ConfigError, match="unknown task ids"):
        gym.make("tooluse/Calculator-v0", tasks_file=path, task_ids=["calculator/train/nope"])
    write_tasks(tasks[:1], path)
    assert [t.id for t in gym.make("tooluse/Calculator-v0", tasks_file=path).unwrapped.tasks] == [tasks[0].id]
