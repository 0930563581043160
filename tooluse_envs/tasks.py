"""Tasks: the unit of work an episode is about, and where they are stored.

Task files are JSON lines under ``tasks/<domain>/<split>.jsonl``, generated deterministically by each
domain's generator (``python -m tooluse_envs.generate``) and committed, so every user evaluates on the
same data. Every line is validated against ``tasks/task.schema.json`` when it is loaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from tooluse_envs.errors import TaskError

SPLITS = ("train", "test_id", "test_ood")


@dataclass(frozen=True)
class ReferenceCall:
    """One tool call of the teacher's trajectory."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reference:
    """The teacher's trajectory for a task: its calls in order and its final answer.

    ``turns`` groups the calls into assistant turns (number of calls per turn); empty means one call
    per turn. Parallel calls, as BFCL asks for, are several calls in one turn.

    Where a task admits several correct tool strategies, ``strategy`` names the one the teacher chose
    (per task, from the problem's features) and ``alternatives`` holds the others, each a complete
    trajectory that the tests replay. They are what gives a teacher-matching reward its signal: a
    student can be right with another tool set, and the reward says which one the teacher preferred.
    """

    tool_calls: tuple[ReferenceCall, ...]
    answer: str | None
    turns: tuple[int, ...] = ()
    strategy: str | None = None
    alternatives: tuple[Reference, ...] = ()

    @property
    def tool_names(self) -> set[str]:
        return {call.name for call in self.tool_calls}

    def call_groups(self) -> list[list[ReferenceCall]]:
        """The calls split into turns."""
        sizes = self.turns or (1,) * len(self.tool_calls)
        groups, start = [], 0
        for size in sizes:
            groups.append(list(self.tool_calls[start : start + size]))
            start += size
        return groups

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in self.tool_calls],
            "answer": self.answer,
        }
        if self.turns:
            out["turns"] = list(self.turns)
        if self.strategy is not None:
            out["strategy"] = self.strategy
        if self.alternatives:
            out["alternatives"] = [alt.to_dict() for alt in self.alternatives]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reference:
        calls = tuple(ReferenceCall(c["name"], dict(c["arguments"])) for c in data["tool_calls"])
        alternatives = tuple(cls.from_dict(alt) for alt in data.get("alternatives", ()))
        return cls(calls, data.get("answer"), tuple(data.get("turns", ())), data.get("strategy"), alternatives)


@dataclass(frozen=True)
class Task:
    """A question, the tools offered for it, how its outcome is verified, and the teacher's reference."""

    id: str
    domain: str
    split: str
    question: str
    tools: tuple[str, ...]
    expected: dict[str, Any]
    reference: Reference
    context: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def template(self) -> str:
        """The template the task was drawn from (its first tag), or ``""``."""
        return self.tags[0] if self.tags and ":" not in self.tags[0] else ""

    @property
    def axis(self) -> str | None:
        """The out-of-domain axis this task varies (its ``axis:<name>`` tag), or None."""
        return next((tag.split(":", 1)[1] for tag in self.tags if tag.startswith("axis:")), None)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tools"] = list(self.tools)
        out["tags"] = list(self.tags)
        out["reference"] = self.reference.to_dict()
        for optional in ("context", "provenance"):
            if not out[optional]:
                del out[optional]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        return cls(
            id=data["id"],
            domain=data["domain"],
            split=data["split"],
            question=data["question"],
            tools=tuple(data["tools"]),
            expected=data["expected"],
            reference=Reference.from_dict(data["reference"]),
            context=data.get("context", {}),
            tags=tuple(data.get("tags", ())),
            provenance=data.get("provenance", {}),
        )


def tasks_dir() -> Path:
    """The task data: ``tasks/`` of a source checkout, else the copy shipped inside the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "tasks", here / "_tasks"):
        if (candidate / "task.schema.json").is_file():
            return candidate
    raise TaskError(f"task data not found next to {here}; reinstall tooluse-mentor")


@cache
def task_validator() -> Draft202012Validator:
    schema = json.loads((tasks_dir() / "task.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_task_dict(data: dict[str, Any], where: str = "task") -> None:
    """Raise TaskError naming every schema violation of one task."""
    errors = sorted(task_validator().iter_errors(data), key=lambda e: list(e.path))
    if errors:
        problems = "; ".join(f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:5])
        raise TaskError(f"{where} does not match task.schema.json: {problems}")


def read_task_lines(path: str | Path) -> list[tuple[int, Task]]:
    """Every task of one JSONL file with its line number, each line validated; errors name the file and line.

    The line numbers let later checks (domain, tools, repeated ids) point at the offending line too.
    """
    path = Path(path)
    if not path.is_file():
        raise TaskError(f"no task file {path}")
    tasks = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(data, dict):
                raise TaskError(f"{path}:{lineno}: a task must be a JSON object")
            validate_task_dict(data, where=f"{path}:{lineno}")
            tasks.append((lineno, Task.from_dict(data)))
    if not tasks:
        raise TaskError(f"{path} holds no tasks")
    return tasks


def read_task_file(path: str | Path) -> list[Task]:
    """Every task of one JSONL file, each line validated; errors name the file and line."""
    return [task for _, task in read_task_lines(path)]


@cache
def _load_tasks_cached(domain: str, split: str) -> tuple[Task, ...]:
    path = tasks_dir() / domain / f"{split}.jsonl"
    if not path.is_file():
        raise TaskError(f"no task file {path}; run `python -m tooluse_envs.generate {domain}`")
    return tuple(read_task_file(path))


def load_tasks(domain: str, split: str) -> list[Task]:
    """All tasks of one domain and split, validated against the schema (cached per process)."""
    if split not in SPLITS:
        raise TaskError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return list(_load_tasks_cached(domain, split))


def write_tasks(tasks: list[Task], path: Path) -> None:
    """Write tasks as JSON lines after validating each (used by the generators)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for task in tasks:
            data = task.to_dict()
            validate_task_dict(data, where=task.id)
            fh.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")
