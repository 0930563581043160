"""The contract between the environment loop and a domain (Calculator, SQL, ...).

A domain owns three things: its tools (declared once), its task generator, and its outcome checker.
Per-episode state (a database copy, a sandbox session, a service instance) lives in a ``Session`` that
the domain opens at reset and the env closes when the episode ends.
"""

from __future__ import annotations

import importlib
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

from tooluse_envs import registry
from tooluse_envs.answers import number_answer_correct, text_answer_correct, token_f1, values_match
from tooluse_envs.episode import EpisodeRecord, Outcome
from tooluse_envs.errors import ConfigError, TaskError
from tooluse_envs.tasks import Task, load_tasks
from tooluse_envs.tools import Tool


def format_result(value: Any) -> str:
    """Tool return values as the text the policy reads: numbers without float noise, data as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.10g}"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def check_answer(expected: dict[str, Any], answer: str | None) -> Outcome:
    """The checker for answer tasks: numbers, text (with aliases) or lists of values."""
    kind = expected["kind"]
    if kind == "number":
        return Outcome(number_answer_correct(answer, float(expected["answer"]), expected.get("decimals")))
    if kind == "text":
        options = expected["answer"] if isinstance(expected["answer"], list) else [expected["answer"]]
        f1 = max(token_f1(answer, option) for option in options)
        return Outcome(text_answer_correct(answer, options), f1, {"f1": f1})
    if kind == "rows":
        return Outcome(values_match(answer, expected["answer"], bool(expected.get("ordered"))))
    raise TaskError(f"answer checker cannot handle expected kind {kind!r}")


T = TypeVar("T")


def draw_distinct(
    templates: Sequence[Callable[..., Any]],
    count: int,
    draw: Callable[[Callable[..., Any]], T],
    key: Callable[[T], str],
    taken: set[str] | None = None,
) -> list[tuple[str, T]]:
    """Draw from the templates in turn until ``count`` items with distinct keys (none in ``taken``).

    Generators use it so that a split holds no repeated question and a test split none of train's;
    a template that cannot produce enough distinct items fails loudly instead of looping forever.
    """
    seen, misses = set(taken or ()), 0
    out: list[tuple[str, T]] = []
    while len(out) < count:
        template = templates[len(out) % len(templates)]
        item = draw(template)
        if key(item) in seen:
            misses += 1
            if misses > 10_000:
                raise TaskError(f"{template.__name__} cannot produce {count} distinct items")
            continue
        seen.add(key(item))
        out.append((template.__name__.lstrip("_"), item))
    return out


class Session:
    """One episode's tool state. The default runs stateless tools in-process and checks the answer."""

    def __init__(self, task: Task, tools: dict[str, Tool]) -> None:
        self.task = task
        self.tools = tools

    def call(self, tool: Tool, arguments: dict[str, Any]) -> str:
        """Run a validated call; exceptions become error observations in the env."""
        return format_result(tool(**arguments))

    def check(self, answer: str | None) -> Outcome:
        return check_answer(self.task.expected, answer)

    def check_episode(self, episode: EpisodeRecord) -> Outcome:
        """The env's entry point at the end: domains that judge the calls themselves (BFCL) override this."""
        return self.check(episode.answer)

    def close(self) -> None:
        """Release per-episode resources."""


class Domain(ABC):
    """A family of tasks with its tools, generator and checker."""

    name: ClassVar[str]
    instructions: ClassVar[str] = ""
    single_turn: ClassVar[bool] = False  # True: the first assistant turn ends the episode (its calls are the answer)

    @abstractmethod
    def tools(self) -> dict[str, Tool]:
        """Every tool the domain's tasks may offer, by name."""

    @abstractmethod
    def generate(self, split: str) -> list[Task]:
        """Deterministically generate the tasks of one split (written to tasks/ and committed)."""

    def pick(self, tasks: list[Task], rng: np.random.Generator) -> Task:
        """Draw the next episode's task; domains that mix task families override this to weight them."""
        return tasks[int(rng.integers(len(tasks)))]

    def instructions_for(self, task: Task) -> str:
        """Extra system-prompt text for this task (answer format and the like)."""
        return self.instructions

    def open(self, task: Task) -> Session:
        """Start the episode state for ``task``."""
        return Session(task, self.task_tools(task))

    def task_tools(self, task: Task) -> dict[str, Tool]:
        available = self.tools()
        missing = [name for name in task.tools if name not in available]
        if missing:
            raise TaskError(f"task {task.id} offers unknown tools {missing}")
        return {name: available[name] for name in task.tools}

    def load(self, split: str) -> list[Task]:
        return load_tasks(self.name, split)

    def close(self) -> None:
        """Release resources shared across episodes (pools, servers)."""


DOMAINS = registry.domain_names()  # derived alias for older imports; the list lives in tooluse_envs.registry


def make_domain(name: str, sandbox: str = "auto", **options: Any) -> Domain:
    """Import ``tooluse_envs.domains.<name>`` and build its domain with the given options.

    ``name`` must be in ``tooluse_envs.registry``. ``sandbox`` (the backend for code execution) goes only
    to domains that run code, so one setting can be passed to every env of a suite.
    """
    cls = importlib.import_module(registry.info(name).module).DOMAIN_CLASS
    if "sandbox" in inspect.signature(cls).parameters:
        options["sandbox"] = sandbox
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigError(f"domain {name!r} does not take these options {sorted(options)}: {exc}") from exc
