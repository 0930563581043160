"""Own tasks in every built-in domain: ``gym.make(id, tasks_file=...)`` and ``mentor eval/train --tasks FILE``.

A valid file of one's own tasks (here: shipped tasks given new ids and questions) is what the env plays;
a broken file fails at make time with one message naming the file, the line and what is wrong, and
through the CLI that message is one line on stderr with exit status 2.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path

import gymnasium as gym
import pytest

import tooluse_envs
from tooluse_envs.errors import ConfigError, TaskError
from tooluse_envs.oracle import play_reference
from tooluse_envs.tasks import Task, write_tasks

gym.register_envs(tooluse_envs)

DOMAIN_IDS = {domain: env_id for env_id, domain in tooluse_envs.ENV_IDS.items() if domain != "mixed"}


@cache
def shipped(domain: str) -> tuple[Task, ...]:
    """Three tasks of the domain's test_id split (its data files, databases and services included)."""
    env = gym.make(DOMAIN_IDS[domain], split="test_id")
    tasks = env.unwrapped.tasks
    env.close()
    step = max(1, len(tasks) // 3)
    return tuple(tasks[::step][:3])


def own_tasks(domain: str) -> list[Task]:
    """Shipped tasks turned into "own" ones: new ids and questions, so the env can only have read them here."""
    return [
        dataclasses.replace(task, id=f"{domain}/train/own-{i}", split="train", question=f"[own {i}] {task.question}")
        for i, task in enumerate(shipped(domain))
    ]


def lines_of(tasks: list[Task]) -> list[str]:
    return [json.dumps(task.to_dict()) for task in tasks]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def other_domain(domain: str) -> str:
    return "sql" if domain == "calculator" else "calculator"


@pytest.mark.parametrize("domain", sorted(DOMAIN_IDS))
def test_an_own_tasks_file_is_what_the_env_plays(domain, tmp_path):
    tasks = own_tasks(domain)
    path = tmp_path / "own.jsonl"
    write_tasks(tasks, path)
    env = gym.make(DOMAIN_IDS[domain], tasks_file=str(path))
    try:
        assert [t.id for t in env.unwrapped.tasks] == [t.id for t in tasks]
        question, info = env.reset(seed=0, options={"task_id": tasks[1].id})
        assert question == tasks[1].question and question.startswith("[own 1] ")
        reward, info = play_reference(env, tasks[0].id)
        assert reward == 1.0, info.get("tool_episode")
    finally:
        env.close()


@pytest.mark.parametrize("domain", sorted(DOMAIN_IDS))
def test_invalid_json_on_line_3_is_named(domain, tmp_path):
    good = lines_of(own_tasks(domain))
    path = write_lines(tmp_path / "broken.jsonl", [good[0], good[1], '{"id": "oops",', good[2]])
    with pytest.raises(TaskError) as caught:
        gym.make(DOMAIN_IDS[domain], tasks_file=path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: not valid JSON"), message
    assert "\n" not in message


@pytest.mark.parametrize("domain", sorted(DOMAIN_IDS))
def test_a_task_missing_a_required_field_on_line_2_is_named(domain, tmp_path):
    tasks = own_tasks(domain)
    missing = tasks[1].to_dict()
    del missing["question"]
    path = write_lines(tmp_path / "missing.jsonl", [json.dumps(tasks[0].to_dict()), json.dumps(missing)])
    with pytest.raises(TaskError) as caught:
        gym.make(DOMAIN_IDS[domain], tasks_file=path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2 "), message
    assert "task.schema.json" in message and "'question' is a required property" in message


@pytest.mark.parametrize("domain", sorted(DOMAIN_IDS))
def test_a_task_of_another_domain_on_line_2_is_named(domain, tmp_path):
    foreign = own_tasks(other_domain(domain))[0]
    path = write_lines(tmp_path / "foreign.jsonl", [lines_of(own_tasks(domain))[0], json.dumps(foreign.to_dict())])
    with pytest.raises(ConfigError) as caught:
        gym.make(DOMAIN_IDS[domain], tasks_file=path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: task {foreign.id!r}"), message
    assert f"domain(s) {other_domain(domain)}; this env runs {domain}" in message


@pytest.mark.parametrize("domain", ["calculator", "sql", "bfcl"])
def test_an_unknown_tool_and_a_repeated_id_name_their_lines(domain, tmp_path):
    tasks = own_tasks(domain)
    unknown = dataclasses.replace(tasks[1], tools=(*tasks[1].tools, "launch_missiles"))
    path = tmp_path / "tool.jsonl"
    write_tasks([tasks[0], unknown], path)
    with pytest.raises(TaskError, match=rf"^{path}:2: .*launch_missiles"):
        gym.make(DOMAIN_IDS[domain], tasks_file=path)
    write_tasks([tasks[0], tasks[1], tasks[0]], path)
    with pytest.raises(ConfigError, match=rf"^{path}:3: repeats task ids: .* already on line 1"):
        gym.make(DOMAIN_IDS[domain], tasks_file=path)


# -- through the CLI -----------------------------------------------------------------------------------

EVAL = ["eval", "--agent", "oracle", "--env", "tooluse/Calculator-v0", "--split", "test_id", "--quiet"]


@pytest.mark.parametrize("flag", ["--tasks", "--tasks-file"])
def test_mentor_eval_plays_an_own_tasks_file(flag, tmp_path):
    from mentor_agents.cli import main

    tasks = own_tasks("calculator")
    path = tmp_path / "own.jsonl"
    write_tasks(tasks, path)
    out = tmp_path / "oracle.json"
    assert main([*EVAL, flag, str(path), "--out", str(out)]) == 0
    (slot,) = json.loads(out.read_text())["results"]
    assert slot["metrics"]["success"] == 1.0
    rows = [json.loads(line) for line in out.with_suffix(".episodes.jsonl").read_text().splitlines()[1:]]
    assert sorted(r["task_id"] for r in rows) == sorted(t.id for t in tasks)


@pytest.mark.parametrize("case", ["json", "missing", "foreign"])
def test_mentor_eval_refuses_a_bad_file_in_one_line_with_exit_2(case, tmp_path, capsys):
    from mentor_agents.cli import main

    good = lines_of(own_tasks("calculator"))
    missing = json.loads(good[1])
    del missing["expected"]
    bad = {"json": "{not json", "missing": json.dumps(missing), "foreign": lines_of(own_tasks("sql"))[0]}[case]
    path = write_lines(tmp_path / "bad.jsonl", [good[0], bad])
    out = tmp_path / "r.json"
    assert main([*EVAL, "--tasks", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"mentor eval: {path}:2"), lines[0]
    assert not out.exists()


def test_mentor_train_takes_tasks_and_keeps_tasks_file():
    from mentor_agents.cli import build_parser

    parser = build_parser()
    for flag in ("--tasks", "--tasks-file"):
        args = parser.parse_args(["train", "--out", "unused", flag, "own.jsonl"])
        assert args.tasks_file == "own.jsonl"


@pytest.mark.parametrize("case", ["json", "foreign"])
def test_mentor_train_refuses_a_bad_file_in_one_line_before_touching_out(case, tmp_path, capsys):
    pytest.importorskip("torch")
    from mentor_agents.cli import main

    good = lines_of(own_tasks("calculator"))
    bad = {"json": "{not json", "foreign": lines_of(own_tasks("sql"))[0]}[case]
    path = write_lines(tmp_path / "bad.jsonl", [good[0], bad])
    out = tmp_path / "run"
    assert main(["train", "--method", "sft", "--tasks", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"mentor train: --tasks {path}:2"), lines[0]
    assert not out.exists()


def test_a_bfcl_task_without_function_definitions_names_its_line(tmp_path):
    tasks = own_tasks("bfcl")
    broken = dataclasses.replace(tasks[1], context={k: v for k, v in tasks[1].context.items() if k != "functions"})
    path = tmp_path / "bfcl.jsonl"
    write_tasks([tasks[0], broken], path)
    with pytest.raises(TaskError, match=rf"^{path}:2: task {broken.id} has no usable tool definitions"):
        gym.make("tooluse/BFCL-v0", tasks_file=path)
