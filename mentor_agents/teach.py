"""``mentor teach``: regenerate the tasks' reference trajectories with a real model, through the env.

mentor teach --teacher openai:http://127.0.0.1:8000/v1 --env tooluse/Calculator-v0 --split train --out t.jsonl
mentor teach --teacher hf:runs/x --env tooluse/SQL-v0 --samples 4 --select majority --temperature 0.7 --out s.jsonl
mentor teach --teacher tiny --env tooluse/Calculator-v0 --episodes 20 --out tiny.jsonl

The committed references are the generators' scripted strategies; MENTOR's teacher is an LLM whose
tool choices vary from problem to problem, and its reward pulls the student toward those choices. This
command plays every task with a teacher model in the real env (real tool responses), keeps only the
trajectories the env's checker verifies and that replay to the same verdict, and writes the tasks back
with the teacher's trajectory as ``reference`` and a ``provenance`` record (model identity, sampling,
samples, selection rule, date, env and split). Tasks without a verified trajectory are dropped and
counted. The file loads with ``gym.make(<id>, tasks_file=...)``, ``mentor train --tasks-file`` and
``mentor eval --tasks-file``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mentor_agents.agents import AgentOptions, AgentSpec, describe
from mentor_agents.seeding import derive_seed
from mentor_agents.teachers import SELECTIONS, episode_reference, select_reference
from tooluse_envs.tasks import SPLITS, Reference, Task, write_tasks

TEACHER_HELP = "openai:<base_url>[#<model>] | hf:<path or run dir> | tiny | smollm2-135m"


@dataclass
class TeachConfig:
    """One ``mentor teach`` run; everything but ``out`` and ``progress`` goes into the provenance."""

    teacher: str
    """A model spec (TEACHER_HELP); ``openai:<url>`` without ``#model`` asks the server's /models."""
    env_id: str = "tooluse/Calculator-v0"
    """The env the teacher plays (any built-in id)."""
    split: str = "train"
    """The split whose tasks get new references."""
    out: str = "tasks.jsonl"
    """Where the taught tasks go (JSONL, tasks/task.schema.json)."""
    samples: int = 1
    """Episodes per task (first-correct stops at the first verified one)."""
    select: str = "first-correct"
    """first-correct | majority (see ``mentor_agents.teachers.select_reference``)."""
    temperature: float = 0.0
    """Teacher sampling temperature; use > 0 with samples > 1."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    max_new_tokens: int = 256
    """Longest teacher turn."""
    max_turns: int = 8
    """Assistant turns per episode."""
    episodes: int | None = None
    """Teach a seeded sample of this many tasks (kept in split order); None: every task."""
    seed: int = 0
    """Seeds the task sample and every rollout."""
    batch_size: int = 8
    """Episodes generated together."""
    tasks_file: str | None = None
    """Teach the tasks of this file instead of the split's."""
    progress: bool = True
    """Progress bar (shown only on a terminal)."""

    def __post_init__(self) -> None:
        counts = {"samples": self.samples, "max_turns": self.max_turns, "batch_size": self.batch_size}
        counts |= {"max_new_tokens": self.max_new_tokens, "episodes": self.episodes or 1}
        bad = [f"{name}={value}" for name, value in counts.items() if value < 1]
        if bad:
            raise ValueError(f"{', '.join(bad)}: must be at least 1")
        if self.select not in SELECTIONS:
            raise ValueError(f"unknown selection {self.select!r}; choose one of {', '.join(SELECTIONS)}")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose one of {', '.join(SPLITS)}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")


@dataclass
class TeachReport:
    """What a run did: the counts it prints, and the ids of the dropped tasks."""

    tasks: int
    kept: int
    episodes: int
    verified_episodes: int
    dropped: list[str] = field(default_factory=list)
    out: str | None = None

    def summary(self) -> str:
        return (
            f"kept {self.kept} of {self.tasks} tasks; dropped {len(self.dropped)} with no verified trajectory "
            f"({self.verified_episodes} of {self.episodes} episodes verified)"
        )


@dataclass
class Teacher:
    """A policy, the tokenizer rollouts render prompts with, and what identifies the model."""

    policy: Any
    tokenizer: Any
    identity: dict[str, Any]


def served_model(base_url: str, timeout_s: float = 30.0) -> str:
    """The first model an OpenAI-compatible server lists at ``/models`` (a server usually serves one)."""
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/models", headers={"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', '')}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (user-given URL)
            models = json.loads(response.read()).get("data") or []
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot list the models at {base_url}/models ({exc}); pass openai:<url>#<model>") from exc
    if not models:
        raise ValueError(f"{base_url}/models lists no model; pass openai:<url>#<model>")
    return str(models[0]["id"])


def parse_teacher(text: str) -> AgentSpec:
    """The teacher spec as an agent spec; a bare ``openai:<url>`` gets its model from the server."""
    if text.startswith("openai:") and "#" not in text and len(text) > len("openai:"):
        text = f"{text}#{served_model(text[len('openai:') :])}"
    spec = AgentSpec.parse(text)
    if spec.scripted or spec.kind == "sb3":
        raise ValueError(f"--teacher {text!r}: a teacher is a language model ({TEACHER_HELP})")
    return spec


def load_teacher(spec: AgentSpec, config: TeachConfig) -> Teacher:
    """Build the model behind ``spec`` (torch is imported here, not at CLI start)."""
    from mentor_agents.agents import build_agent

    options = AgentOptions(config.temperature, config.top_p, config.max_new_tokens, config.batch_size)
    agent = build_agent(spec, options, seed=config.seed)
    identity = describe(spec)
    if spec.kind == "tiny":
        identity["seed"] = config.seed  # the tiny preset's weights are its seeded init
    return Teacher(agent.policy, agent.tokenizer, identity)  # type: ignore[union-attr]


def choose_tasks(tasks: list[Task], episodes: int | None, seed: int) -> list[Task]:
    """All tasks, or a seeded sample of ``episodes`` of them in their file order (never just the first N)."""
    if episodes is None or episodes >= len(tasks):
        return list(tasks)
    picked = set(random.Random(derive_seed(seed, "teach-tasks")).sample(range(len(tasks)), episodes))
    return [task for i, task in enumerate(tasks) if i in picked]


def _env_kwargs(config: TeachConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"split": config.split, "max_turns": config.max_turns, "reward": "outcome"}
    if config.tasks_file is not None:
        kwargs["tasks_file"] = config.tasks_file
    return kwargs


def _replays(env: Any, task_id: str, reference: Reference) -> bool:
    """Whether the reference, replayed in a fresh episode, is judged correct again."""
    from tooluse_envs.oracle import play_reference

    _, info = play_reference(env, task_id, reference)
    return bool(info["tool_episode"]["success"])


def teach(config: TeachConfig, teacher: Teacher | None = None) -> TeachReport:
    """Play, verify, select and write; returns the report (the file is written only if a task is kept)."""
    from tqdm.auto import tqdm

    from mentor_agents.policies.base import SamplingParams
    from mentor_agents.rollout import make_envs, rollout

    if teacher is None:
        teacher = load_teacher(parse_teacher(config.teacher), config)
    envs = make_envs(config.env_id, config.batch_size, **_env_kwargs(config))
    (checker,) = make_envs(config.env_id, 1, **_env_kwargs(config))
    single_turn = envs[0].unwrapped.domain.single_turn
    tasks = choose_tasks(envs[0].unwrapped.tasks, config.episodes, config.seed)
    samples: dict[str, list[Reference | None]] = {task.id: [] for task in tasks}
    sampling = SamplingParams(config.temperature, config.top_p, config.max_new_tokens)
    show = config.progress and sys.stderr.isatty()
    bar = tqdm(total=len(tasks) * config.samples, desc=f"teach {config.env_id}", unit="ep", disable=not show)
    episodes = 0
    try:
        for sample in range(config.samples):
            todo = [t.id for t in tasks if config.select == "majority" or not any(samples[t.id])]
            bar.update(len(tasks) - len(todo))  # first-correct: tasks already solved need no more samples
            for chunk_index, start in enumerate(range(0, len(todo), config.batch_size)):
                chunk = todo[start : start + config.batch_size]
                seed = derive_seed(config.seed, "teach", sample, chunk_index)
                for traj in rollout(envs[: len(chunk)], teacher.policy, teacher.tokenizer, sampling, chunk, seed):
                    reference = episode_reference(traj.episode, single_turn)
                    ok = bool(traj.episode.get("success")) and _replays(checker, traj.task_id, reference)
                    samples[traj.task_id].append(reference if ok else None)
                episodes += len(chunk)
                bar.update(len(chunk))
    finally:
        bar.close()
        for env in (*envs, checker):
            env.close()
    return _write(config, teacher, tasks, samples, episodes)


def _provenance(config: TeachConfig, teacher: Teacher, drawn: list[Reference | None], chosen: int) -> dict:
    return {
        "method": "mentor teach",
        "teacher": teacher.identity,
        "sampling": {
            "temperature": config.temperature,
            "top_p": config.top_p,
            "max_new_tokens": config.max_new_tokens,
            "seed": config.seed,
        },
        "max_turns": config.max_turns,
        "samples_per_task": config.samples,
        "samples_drawn": len(drawn),
        "verified_samples": sum(ref is not None for ref in drawn),
        "selection": config.select,
        "selected_sample": chosen,
        "env_id": config.env_id,
        "split": config.split,
        "tasks_file": config.tasks_file,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _write(
    config: TeachConfig, teacher: Teacher, tasks: list[Task], samples: dict[str, list[Reference | None]], episodes: int
) -> TeachReport:
    kept: list[Task] = []
    dropped: list[str] = []
    for task in tasks:
        selected = select_reference(samples[task.id], config.select)
        if selected is None:
            dropped.append(task.id)
            continue
        index, reference = selected
        provenance = json.loads(json.dumps(_provenance(config, teacher, samples[task.id], index), default=str))
        kept.append(dataclasses.replace(task, reference=reference, provenance=provenance))
    verified = sum(ref is not None for drawn in samples.values() for ref in drawn)
    report = TeachReport(len(tasks), len(kept), episodes, verified, dropped)
    if kept:
        out = Path(config.out)
        tmp = out.with_name(f".{out.name}.tmp")
        write_tasks(kept, tmp)  # validates every task against the schema
        os.replace(tmp, out)
        report.out = str(out)
    return report
