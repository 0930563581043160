"""tooluse_envs.integrations.trl: the dataset renders prompts as ``mentor train`` does, the reward functions
score each completion in its task's env (a clipped one as cut off), the environment class exposes the
env's tools, and TRL's ``GRPOTrainer`` trains the tiny preset for 2 steps through both paths."""

from __future__ import annotations

import json
import os

import gymnasium as gym
import pytest

pytest.importorskip("trl", reason="pip install 'tooluse-mentor[trl]'")
pytest.importorskip("torch", reason="pip install 'tooluse-mentor[trl]'")

import tooluse_envs  # noqa: E402
import tooluse_envs.integrations.trl as ttrl  # noqa: E402
from tooluse_envs.errors import ConfigError  # noqa: E402
from tooluse_envs.oracle import reference_actions  # noqa: E402

ENV = "tooluse/Calculator-v0"
gym.register_envs(tooluse_envs)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):
    from mentor_agents.tokenizer import load_tiny_tokenizer

    return load_tiny_tokenizer(tmp_path_factory.mktemp("mentor-cache"))


@pytest.fixture(scope="module")
def tasks():
    env = gym.make(ENV, split="train")
    tasks = list(env.unwrapped.tasks[:4])
    env.close()
    return tasks


def oracle_text(task) -> str:
    """The teacher's whole trajectory as one completion (its calls, then its boxed answer)."""
    return "\n".join(reference_actions(task.reference))


def test_dataset_prompts_are_what_mentor_train_renders(tokenizer, tasks):
    from mentor_agents.tokenizer import render

    ids = [t.id for t in tasks]
    data = ttrl.dataset(ENV, "train", tokenizer, task_ids=ids)
    assert data.column_names == ["prompt", "task_id"] and data["task_id"] == ids
    env = gym.make(ENV, split="train")
    for row in data:
        _, info = env.reset(options={"task_id": row["task_id"]})
        assert row["prompt"] == render(tokenizer, info["messages"], info["tools"], generation_prompt=True)
        assert "# Tools" in row["prompt"]
    chat = ttrl.dataset(ENV, "train", task_ids=ids[:1])  # messages, for environment_factory
    assert [m["role"] for m in chat[0]["prompt"]] == ["system", "user"]


def test_reward_funcs_need_a_rule_for_clipped_completions():
    with pytest.raises(ConfigError, match="max_completion_length"):
        ttrl.reward_funcs(ENV, "mentor")


def test_rewards_replay_each_completion_in_its_task_and_score_clipped_ones_as_cut_off(tokenizer, tasks):
    (fn,) = ttrl.reward_funcs(ENV, "mentor", tokenizer=tokenizer)
    assert fn.__name__ == "tooluse_mentor"
    eos = tokenizer.eos_token_id
    ids = [tokenizer(oracle_text(t), add_special_tokens=False)["input_ids"] for t in tasks[:2]]
    no_answer = tokenizer("I do not know.", add_special_tokens=False)["input_ids"]
    completion_ids = [ids[0] + [eos], ids[1] + [eos], ids[0], no_answer + [eos], no_answer]
    task_id = [tasks[0].id, tasks[1].id, tasks[0].id, tasks[0].id, tasks[0].id]
    rewards = fn(prompts=[""] * 5, completions=[""] * 5, completion_ids=completion_ids, task_id=task_id)
    # the teacher's trajectory is worth MENTOR's maximum; the same text without EOS was cut off: 0;
    # a finished turn without \boxed{} gets the 0.1 floor, a clipped one 0
    assert rewards == [pytest.approx(1.1), pytest.approx(1.1), 0.0, pytest.approx(0.1), 0.0]
    # the other task's answer is wrong for this one
    assert fn(prompts=[""], completions=[""], completion_ids=[ids[1] + [eos]], task_id=[tasks[0].id])[0] < 0.5

    # without a tokenizer: the text TRL decoded, clipped when it reached max_completion_length
    (by_length,) = ttrl.reward_funcs(ENV, "outcome", max_completion_length=len(ids[0]) + 1)
    text = [oracle_text(tasks[0])] * 2
    assert by_length(
        prompts=[""] * 2, completions=text, completion_ids=[ids[0], ids[0] + [eos]], task_id=[tasks[0].id] * 2
    ) == [1.0, 0.0]


def test_environment_class_has_the_tools_and_ends_the_episode(tasks):
    from transformers.utils import get_json_schema

    cls = ttrl.environment_factory(ENV)
    env = gym.make(ENV, split="train")
    _, info = env.reset(options={"task_id": tasks[0].id})
    for schema in info["tools"]:
        expected = json.loads(json.dumps(schema))
        expected["function"]["parameters"].pop("additionalProperties")  # not expressible as a Python signature
        assert get_json_schema(getattr(cls, schema["function"]["name"])) == expected
    public = {name for name in vars(cls) if not name.startswith("_")}
    assert public == {s["function"]["name"] for s in info["tools"]}

    environment = cls()
    task = tasks[0]
    environment.reset(task_id=task.id, prompt=[], environment=None)
    for group in task.reference.call_groups():
        for call in group:
            response = getattr(environment, call.name)(**call.arguments)
            assert not response.startswith("Error"), response
    (fn,) = ttrl.reward_funcs(ENV, "mentor", max_completion_length=10_000)
    final = [{"role": "assistant", "content": f"\\boxed{{{task.reference.answer}}}"}]
    assert fn(prompts=[None], completions=[final], completion_ids=[[1]], environments=[environment]) == [
        pytest.approx(1.1)
    ]
    environment.reset(task_id=task.id)
    cut = [{"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "add"}}]}]
    assert fn(prompts=[None], completions=[cut], completion_ids=[[1]], environments=[environment]) == [0.0]


def test_per_task_tool_sets_give_a_dict_and_an_environment_column():
    factories = ttrl.environment_factory("tooluse/REST-v0")
    assert isinstance(factories, dict) and len(factories) > 1
    data = ttrl.dataset("tooluse/REST-v0", "train")
    assert set(data["environment"]) <= set(factories)
    env = gym.make("tooluse/REST-v0", split="train")
    for row in list(data)[:3]:
        _, info = env.reset(options={"task_id": row["task_id"]})
        assert set(vars(factories[row["environment"]])) >= {t["function"]["name"] for t in info["tools"]}


def _scripted_trainer(tokenizer, tasks):
    """A GRPOTrainer whose sampling plays the teacher's turns (the tiny model still scores and trains):
    even rows end with EOS, odd rows stop one token short of it, as if clipped."""
    from trl import GRPOTrainer

    by_question = {t.question: t for t in tasks}

    class Scripted(GRPOTrainer):
        calls = 0

        def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
            out = []
            for row, ids in enumerate(prompt_ids):
                text = tokenizer.decode(ids, skip_special_tokens=False)
                task = next(t for q, t in by_question.items() if q in text)
                turn = text.count("<|im_start|>assistant\n") - 1  # the turns played so far
                turns = reference_actions(task.reference)
                action = tokenizer(turns[min(turn, len(turns) - 1)], add_special_tokens=False)["input_ids"]
                final = turn >= len(turns) - 1
                out.append(action if final and row % 2 else action + [tokenizer.eos_token_id])
            type(self).calls += 1
            return out, None

    return Scripted


def _config(tmp_path, **overrides):
    from trl import GRPOConfig

    options = dict(
        output_dir=str(tmp_path / "out"),
        max_steps=2,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=8,
        learning_rate=1e-3,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        logging_steps=1,
        seed=0,
    )
    return GRPOConfig(**{**options, **overrides})


def test_grpo_trainer_two_steps_with_reward_funcs(tokenizer, tasks, tmp_path):
    from trl import GRPOTrainer

    from mentor_agents.models import build_tiny_model

    ids = [t.id for t in tasks]
    trainer = GRPOTrainer(
        build_tiny_model(tokenizer, seed=0),
        reward_funcs=ttrl.reward_funcs(ENV, "mentor", tokenizer=tokenizer),
        args=_config(tmp_path),
        train_dataset=ttrl.dataset(ENV, "train", tokenizer, task_ids=ids),
        processing_class=tokenizer,
    )
    trainer.train()
    logs = [log for log in trainer.state.log_history if "rewards/tooluse_mentor/mean" in log]
    assert trainer.state.global_step == 2 and len(logs) == 2
    # the random model never reaches EOS in 8 tokens: every completion is clipped, so every reward is 0
    assert all(log["completions/clipped_ratio"] == 1.0 and log["rewards/tooluse_mentor/mean"] == 0.0 for log in logs)


@pytest.mark.slow
def test_grpo_trainer_two_steps_with_environment_factory(tokenizer, tasks, tmp_path, monkeypatch):
    from mentor_agents.models import build_tiny_model

    monkeypatch.setitem(os.environ, "TRL_EXPERIMENTAL_SILENCE", "1")
    ids = [t.id for t in tasks]
    trainer_class = _scripted_trainer(tokenizer, tasks)
    trainer = trainer_class(
        build_tiny_model(tokenizer, seed=0),
        reward_funcs=ttrl.reward_funcs(ENV, "mentor", tokenizer=tokenizer),
        args=_config(tmp_path, max_completion_length=256, max_tool_calling_iterations=8),
        train_dataset=ttrl.dataset(ENV, "train", task_ids=ids),
        processing_class=ttrl.add_response_template(tokenizer),
        environment_factory=ttrl.environment_factory(ENV, task_ids=ids),
    )
    trainer.train()
    logs = [log for log in trainer.state.log_history if "rewards/tooluse_mentor/mean" in log]
    assert trainer.state.global_step == 2 and len(logs) == 2
    for log in logs:
        assert log["tools/call_frequency"] > 0 and log["tools/failure_frequency"] == 0
        # each group: the teacher's rollout (1.1) and the same one clipped before EOS (0)
        assert log["rewards/tooluse_mentor/mean"] == pytest.approx(0.55)
        assert log["completions/clipped_ratio"] == pytest.approx(0.5)
