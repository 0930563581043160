"""``mentor teach``: a teacher model's verified trajectories become the tasks' references.

The HTTP teacher is a scripted one whose behaviour is known per task and episode (wrong first tries,
a second correct strategy), served by ``mentor serve``'s app, so the selection rules are checked
exactly; the tiny preset checks the model path, where almost nothing is correct.
"""

from __future__ import annotations

import json
from collections import Counter

import gymnasium as gym
import pytest

pytest.importorskip("torch")

import tooluse_envs  # noqa: E402
from mentor_agents.cli import main  # noqa: E402
from mentor_agents.policies.base import Generation  # noqa: E402
from mentor_agents.rollout import make_envs  # noqa: E402
from mentor_agents.serve import build_app  # noqa: E402
from mentor_agents.teach import TeachConfig, Teacher, choose_tasks, teach  # noqa: E402
from mentor_agents.teachers import OracleTeacher, episode_reference, select_reference  # noqa: E402
from tooluse_envs.oracle import play_reference, reference_actions  # noqa: E402
from tooluse_envs.rest.transport import LoopbackServer  # noqa: E402
from tooluse_envs.tasks import Reference, ReferenceCall, read_task_file  # noqa: E402

gym.register_envs(tooluse_envs)
ENV = "tooluse/Calculator-v0"
N_TASKS = 6
WRONG = "I am not sure, so \\boxed{no idea}."


class ScriptedTeacher:
    """A teacher with a known plan: episode 0 of every even-numbered task answers wrongly; episode 1 of
    every third task answers directly without tools (a second correct strategy); else the reference."""

    def __init__(self, tasks: list) -> None:
        self.tasks = {task.question: (i, task) for i, task in enumerate(tasks)}
        self.episodes: Counter[str] = Counter()

    def actions(self, index: int, task, episode: int) -> list[str]:
        if episode == 0 and index % 2 == 0:
            return [WRONG]
        if episode == 1 and index % 3 == 0:
            return [f"Directly: \\boxed{{{task.reference.answer}}}"]
        return reference_actions(task.reference)

    def generate(self, prompts, sampling, tools=None):
        out = []
        for messages in prompts:
            question = next(m["content"] for m in messages if m["role"] == "user")
            turn = sum(m["role"] == "assistant" for m in messages)
            self.episodes[question] += turn == 0
            index, task = self.tasks[question]
            plan = self.actions(index, task, self.episodes[question] - 1)
            out.append(Generation(plan[min(turn, len(plan) - 1)]))
        return out


@pytest.fixture()
def split_tasks():
    env = gym.make(ENV, split="train")
    tasks = env.unwrapped.tasks
    env.close()
    return tasks


@pytest.fixture()
def tasks(split_tasks):
    return split_tasks[:N_TASKS]


@pytest.fixture()
def served(split_tasks, tiny_cache, monkeypatch):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))  # the prompt renderer's tokenizer
    server = LoopbackServer(build_app(ScriptedTeacher(split_tasks), "scripted-teacher"))
    yield f"{server.url}/v1"
    server.stop()


def _teach(url: str, out, *extra: str) -> int:
    args = ["teach", "--teacher", f"openai:{url}", "--env", ENV, "--split", "train", "--out", str(out)]
    return main([*args, "--episodes", str(N_TASKS), "--batch-size", "4", "--quiet", *extra])


def _every_reference_replays(path, env_id: str = ENV) -> None:
    env = gym.make(env_id, tasks_file=path, reward="outcome")
    for task in env.unwrapped.tasks:
        for reference in (task.reference, *task.reference.alternatives):
            reward, info = play_reference(env, task.id, reference)
            assert reward == 1.0, (task.id, reference, info.get("tool_episode"))
    env.close()


def test_first_correct_keeps_every_solved_task_and_stops_sampling_it(served, tasks, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("mentor_agents.teach.choose_tasks", lambda all_tasks, n, seed: all_tasks[:n])
    out = tmp_path / "first.jsonl"
    assert _teach(served, out, "--samples", "2", "--select", "first-correct") == 0
    assert "kept 6 of 6 tasks; dropped 0" in capsys.readouterr().err
    taught = {t.id: t for t in read_task_file(out)}
    assert list(taught) == [t.id for t in tasks]
    first = taught[tasks[0].id]  # wrong, then the direct answer: the teacher's second try is kept
    assert first.reference.tool_calls == () and first.reference.strategy == "no_tool"
    assert first.provenance["samples_drawn"] == 2 and first.provenance["selected_sample"] == 1
    assert taught[tasks[1].id].provenance["samples_drawn"] == 1  # right at once: no second sample
    assert taught[tasks[1].id].reference.tool_calls == tasks[1].reference.tool_calls
    prov = taught[tasks[2].id].provenance
    assert prov["teacher"] == {
        "spec": "openai:scripted-teacher",
        "kind": "openai",
        "base_url": served,
        "model": "scripted-teacher",
    }
    assert prov["sampling"] == {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 256, "seed": 0}
    where = (prov["env_id"], prov["split"], prov["selection"], prov["samples_per_task"])
    assert where == (ENV, "train", "first-correct", 2)
    assert prov["date"].endswith("Z") and prov["verified_samples"] == 1
    _every_reference_replays(out)


def test_majority_drops_unreliable_tasks_and_keeps_other_strategies_as_alternatives(
    served, tasks, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr("mentor_agents.teach.choose_tasks", lambda all_tasks, n, seed: all_tasks[:n])
    out = tmp_path / "majority.jsonl"
    assert _teach(served, out, "--samples", "2", "--select", "majority") == 0
    err = capsys.readouterr().err
    assert "kept 3 of 6 tasks; dropped 3" in err and "(9 of 12 episodes verified)" in err
    taught = {t.id: t for t in read_task_file(out)}
    assert list(taught) == [tasks[i].id for i in (1, 3, 5)]  # the even ones were right once in two
    third = taught[tasks[3].id]  # reference, then a direct answer: a tie, the first set wins
    assert third.reference.tool_names == tasks[3].reference.tool_names
    assert [(a.strategy, a.tool_calls) for a in third.reference.alternatives] == [("no_tool", ())]
    assert third.provenance["verified_samples"] == 2
    _every_reference_replays(out)


def test_mentor_train_distills_from_the_taught_file(served, tmp_path, tiny_cache):
    out = tmp_path / "taught.jsonl"
    assert _teach(served, out) == 0
    taught = read_task_file(out)
    conversations = OracleTeacher(ENV, tasks_file=str(out)).conversations()
    assert [c.task_id for c in conversations] == [t.id for t in taught]
    run = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--method", "sft", "--sft.steps", "1", "--tasks-file", str(out)]
    assert main([*args, "--out", str(run), "--quiet", "--sft.batch_size", "2"]) == 0
    assert json.loads((run / "config.json").read_text())["tasks_file"] == str(out)


def test_mentor_train_grpo_plays_the_taught_tasks(served, tmp_path, monkeypatch):
    import mentor_agents.train.grpo as grpo

    out = tmp_path / "taught.jsonl"
    assert _teach(served, out) == 0
    made = []

    def spy(env_id, n, **kwargs):
        made.append(kwargs)
        return make_envs(env_id, n, **kwargs)

    monkeypatch.setattr(grpo, "make_envs", spy)
    tiny = ["--grpo.prompts_per_step", "1", "--grpo.group_size", "2", "--grpo.max_new_tokens", "8"]
    tiny += ["--grpo.max_turns", "2"]
    args = ["train", "--preset", "tiny", "--method", "mentor", "--grpo.steps", "1", "--tasks-file", str(out)]
    assert main([*args, "--out", str(tmp_path / "run"), "--quiet", *tiny]) == 0
    assert made and made[0]["tasks_file"] == str(out)


def test_mentor_eval_plays_the_taught_file(served, tmp_path):
    out = tmp_path / "taught.jsonl"
    assert _teach(served, out) == 0
    taught = read_task_file(out)
    results = tmp_path / "eval.json"
    args = ["eval", "--agent", "oracle", "--env", ENV, "--split", "train", "--tasks-file", str(out)]
    assert main([*args, "--out", str(results), "--quiet"]) == 0
    (slot,) = json.loads(results.read_text())["results"]
    assert slot["metrics"]["success"] == 1.0
    rows = [json.loads(line) for line in results.with_suffix(".episodes.jsonl").read_text().splitlines()[1:]]
    assert sorted(r["task_id"] for r in rows) == sorted(t.id for t in taught)


def test_an_existing_output_is_not_overwritten(served, tmp_path, capsys):
    out = tmp_path / "taught.jsonl"
    out.write_text("mine\n")
    assert _teach(served, out) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_text() == "mine\n"


def test_the_tiny_preset_teaches_only_what_it_verifies(tiny_cache, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "tiny.jsonl"
    args = ["teach", "--teacher", "tiny", "--env", ENV, "--episodes", "2", "--samples", "2", "--select", "majority"]
    args += ["--temperature", "1.0", "--max-new-tokens", "8", "--max-turns", "2", "--out", str(out), "--quiet"]
    code = main(args)
    err = capsys.readouterr().err
    if code:  # an untrained model is almost never right: nothing is written then
        assert code == 2 and "no task has a verified trajectory" in err and not out.exists()
    assert "of 2 tasks" in err and "of 4 episodes verified" in err  # majority plays every sample
    if out.exists():
        for task in read_task_file(out):
            assert task.provenance["teacher"] == {"spec": "tiny", "kind": "tiny", "seed": 0}
        _every_reference_replays(out)


class MessageOracle:
    """A message-level teacher that replays each task's reference (tasks told apart by question and tools)."""

    accepts_token_ids = False

    def __init__(self, tasks: list) -> None:
        self.tasks = {(t.question, tuple(sorted(t.tools))): t for t in tasks}

    def generate(self, prompts, sampling, tools=None):
        names = tuple(sorted(schema["function"]["name"] for schema in tools or []))
        out = []
        for messages in prompts:
            question = next(m["content"] for m in messages if m["role"] == "user")
            turn = sum(m["role"] == "assistant" for m in messages)
            plan = reference_actions(self.tasks[(question, names)].reference)
            out.append(Generation(plan[min(turn, len(plan) - 1)]))
        return out


@pytest.mark.parametrize("env_id", [e for e, d in tooluse_envs.ENV_IDS.items() if d != "mixed"])
def test_every_domain_can_be_taught_and_its_taught_file_replays(env_id, tokenizer, tmp_path):
    env = gym.make(env_id, split="test_id")
    split = env.unwrapped.tasks
    env.close()
    out = tmp_path / "taught.jsonl"
    config = TeachConfig(teacher="scripted", env_id=env_id, split="test_id", out=str(out), episodes=3, batch_size=2)
    report = teach(config, Teacher(MessageOracle(split), tokenizer, {"kind": "scripted"}))
    assert (report.kept, report.dropped, report.episodes) == (3, [], 3)
    by_id = {t.id: t for t in split}
    for task in read_task_file(out):
        assert task.reference.tool_calls == by_id[task.id].reference.tool_calls
        assert task.context == by_id[task.id].context and task.provenance["teacher"] == {"kind": "scripted"}
    _every_reference_replays(out, env_id)


def test_an_episode_becomes_the_calls_that_ran_grouped_by_turn():
    def call(name, turn, valid=True):
        return {"name": name, "arguments": {"a": 1}, "valid": valid, "known": valid, "turn": turn}

    episode = {"tool_calls": [call("add", 1), call("nope", 1, False), call("add", 2), call("mul", 2)], "answer": "3"}
    reference = episode_reference(episode, single_turn=False)
    assert [c.name for c in reference.tool_calls] == ["add", "add", "mul"]
    assert (reference.turns, reference.answer, reference.strategy) == ((1, 2), "3", "add+mul")
    assert reference_actions(reference)[-1] == "The answer is \\boxed{3}."
    single = episode_reference({"tool_calls": [call("f", 1), call("g", 1)], "answer": "<tool_call>..."}, True)
    assert (single.turns, single.answer) == ((2,), None)


def test_a_subset_is_a_seeded_sample_in_split_order_not_the_first_tasks(split_tasks):
    picked = choose_tasks(split_tasks, 20, seed=0)
    assert picked == choose_tasks(split_tasks, 20, seed=0) != choose_tasks(split_tasks, 20, seed=1)
    positions = [split_tasks.index(task) for task in picked]
    assert positions == sorted(positions) and positions != list(range(20))
    assert choose_tasks(split_tasks, None, seed=0) == list(split_tasks)


def test_selection_rules_on_hand_cases():
    add = Reference((ReferenceCall("add", {}),), "1", strategy="add")
    direct = Reference((), "1", strategy="no_tool")
    assert select_reference([None, add], "first-correct") == (1, add)
    assert select_reference([None, add], "majority") is None  # one in two is no majority
    assert select_reference([None, None], "first-correct") is None
    index, chosen = select_reference([direct, add, add], "majority")
    assert index == 1 and chosen.alternatives == (direct,)  # the teacher's usual set, the other kept
    with pytest.raises(ValueError, match="selection"):
        select_reference([add], "best")


@pytest.mark.parametrize("teacher", ["oracle", "sb3:policy.zip"])
def test_a_teacher_that_is_not_a_language_model_is_refused(teacher):
    from mentor_agents.teach import parse_teacher

    with pytest.raises(ValueError, match="a teacher is a language model"):
        parse_teacher(teacher)
