"""Bring your own tools: an environment from Python functions and a few tasks.

    from tooluse_envs import make_env

    def get_price(item: str) -> float:
        \"\"\"Price of an item in dollars.

        Args:
            item: The item's name.
        \"\"\"
        return {"apple": 0.5, "pear": 0.75}[item]

    env = make_env(tools=[get_price], tasks=[{"id": "q1", "question": "What do 4 apples cost?", "answer": 2,
                   "reference": [("get_price", {"item": "apple"})]}])

Schemas come from the functions' signatures and Google-style docstrings; answers are checked as
numbers when they are numbers, else as normalised text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tooluse_envs.domain import Domain
from tooluse_envs.errors import ConfigError
from tooluse_envs.tasks import Reference, ReferenceCall, Task
from tooluse_envs.tools import Tool, function_tool


def _reference(value: Any, answer: Any) -> Reference:
    """A reference from a Reference, a {"tool_calls", "answer"} dict, or a list of (name, arguments)."""
    if isinstance(value, Reference):
        return value
    if isinstance(value, dict):
        return Reference.from_dict({"answer": str(answer) if answer is not None else None, **value})
    calls = tuple(ReferenceCall(name, dict(arguments)) for name, arguments in value or [])
    return Reference(calls, str(answer) if answer is not None else None)


def task_from_dict(data: dict[str, Any], tool_names: Sequence[str]) -> Task:
    """A Task from a plain dict with ``id``, ``question``, ``answer`` (or ``expected``) and ``reference``."""
    missing = {"id", "question"} - set(data)
    if missing or ("answer" not in data and "expected" not in data):
        raise ConfigError(f"task {data.get('id', '?')!r} needs id, question and answer (or expected)")
    answer = data.get("answer")
    expected = data.get("expected") or {
        "kind": "number" if isinstance(answer, (int, float)) and not isinstance(answer, bool) else "text",
        "answer": answer if isinstance(answer, (int, float, list)) else str(answer),
    }
    return Task(
        id=str(data["id"]),
        domain="custom",
        split="test_id",
        question=data["question"],
        tools=tuple(data.get("tools", tool_names)),
        expected=expected,
        reference=_reference(data.get("reference", []), answer),
        tags=tuple(data.get("tags", ())),
    )


class CustomDomain(Domain):
    """A domain made of the user's tools and tasks; every split holds the same tasks."""

    name = "custom"

    def __init__(self, tools: Sequence[Callable[..., Any] | Tool], tasks: Sequence[Task | dict[str, Any]]) -> None:
        built = [tool if isinstance(tool, Tool) else function_tool(tool) for tool in tools]
        self._tools = {tool.name: tool for tool in built}
        if len(self._tools) != len(built):
            raise ConfigError("two tools share a name")
        self._tasks = [t if isinstance(t, Task) else task_from_dict(t, list(self._tools)) for t in tasks]
        if not self._tasks:
            raise ConfigError("make_env needs at least one task")
        for task in self._tasks:
            self.task_tools(task)  # fails early on a task naming a tool that does not exist

    def tools(self) -> dict[str, Tool]:
        return self._tools

    def generate(self, split: str) -> list[Task]:
        return list(self._tasks)

    def load(self, split: str) -> list[Task]:
        return list(self._tasks)


def make_env(
    tools: Sequence[Callable[..., Any] | Tool], tasks: Sequence[Task | dict[str, Any]], **env_options: Any
) -> Any:
    """A ready ToolUseEnv over your tools and tasks (env options as for gym.make: reward, max_turns...)."""
    from tooluse_envs.env import ToolUseEnv

    return ToolUseEnv(domain=CustomDomain(tools, tasks), **env_options)
