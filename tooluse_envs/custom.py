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


def openapi_tools(spec: dict[str, Any], base_url: str | None = None, client: Any = None) -> list[Tool]:
    """One tool per operation of an OpenAPI 3 document, each sending its HTTP request to ``base_url``.

    The observation is ``HTTP <status>: <json body>`` for successes and errors alike. Pass ``client``
    (an ``httpx.Client``) instead of ``base_url`` to choose the transport yourself.
    """
    import httpx

    from tooluse_envs.rest.client import ApiResponse
    from tooluse_envs.rest.openapi import build_request, spec_operations

    if client is None:
        if base_url is None:
            raise ConfigError("openapi tools need a base_url (or an httpx client)")
        client = httpx.Client(base_url=base_url, timeout=30.0)

    def executor(operation: Any) -> Callable[..., str]:
        def call(**arguments: Any) -> str:
            request = build_request(operation, arguments)
            response = client.request(
                request.method, request.path, params=request.params or None, json=request.json, headers=request.headers
            )
            return ApiResponse.from_httpx(response).observation()

        return call

    operations = spec_operations(spec.get("info", {}).get("title", "api"), spec)
    return [Tool(op.name, op.description, op.parameters, executor(op)) for op in operations]


def make_env(
    tools: Sequence[Callable[..., Any] | Tool] = (),
    tasks: Sequence[Task | dict[str, Any]] = (),
    *,
    openapi: dict[str, Any] | None = None,
    base_url: str | None = None,
    **env_options: Any,
) -> Any:
    """A ready ToolUseEnv over your tools and tasks (env options as for gym.make: reward, max_turns...).

    Tools are Python functions or ``Tool`` objects, and/or the operations of an ``openapi`` document
    served at ``base_url``.
    """
    from tooluse_envs.env import ToolUseEnv

    all_tools = list(tools) + (openapi_tools(openapi, base_url) if openapi is not None else [])
    return ToolUseEnv(domain=CustomDomain(all_tools, tasks), **env_options)
