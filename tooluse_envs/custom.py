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
numbers when they are numbers, else as normalised text. The env is registered with Gymnasium (``env_id=``
or a generated ``tooluse/Custom<n>-v0``), so ``gym.make_vec(env.spec.id, num_envs=8)`` vectorises it.
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


# ids registered by make_env in this process (re-registering one of them replaces it; others are refused)
_CUSTOM_IDS: set[str] = set()
_GENERATED_ID = "tooluse/Custom{}-v0"


class CustomEnvFactory:
    """The entry point of a ``make_env`` id: a fresh ToolUseEnv over the same tools and tasks per call.

    ``gym.make`` and ``gym.make_vec`` call it with the env options. The OpenAPI tools (and their HTTP
    client) are built anew for each env; the factory pickles when the user's tools do (``AsyncVectorEnv``
    with a "spawn" or "forkserver" context sends it to its workers).
    """

    def __init__(
        self,
        tools: Sequence[Callable[..., Any] | Tool],
        tasks: Sequence[Task | dict[str, Any]],
        openapi: dict[str, Any] | None = None,
        base_url: str | None = None,
    ) -> None:
        self.tools = list(tools)
        self.tasks = list(tasks)
        self.openapi = openapi
        self.base_url = base_url

    def __repr__(self) -> str:  # what env.spec shows as its entry point
        names = [getattr(tool, "name", getattr(tool, "__name__", "?")) for tool in self.tools]
        api = ", openapi" if self.openapi is not None else ""
        return f"CustomEnvFactory(tools={names}{api}, tasks={len(self.tasks)})"

    def __call__(self, **env_options: Any) -> Any:
        from tooluse_envs.env import ToolUseEnv

        all_tools = self.tools + (openapi_tools(self.openapi, self.base_url) if self.openapi is not None else [])
        return ToolUseEnv(domain=CustomDomain(all_tools, self.tasks), **env_options)


def _free_id() -> str:
    from gymnasium.envs.registration import registry

    n = 0
    while _GENERATED_ID.format(n) in registry:
        n += 1
    return _GENERATED_ID.format(n)


def make_env(
    tools: Sequence[Callable[..., Any] | Tool] = (),
    tasks: Sequence[Task | dict[str, Any]] = (),
    *,
    openapi: dict[str, Any] | None = None,
    base_url: str | None = None,
    env_id: str | None = None,
    **env_options: Any,
) -> Any:
    """A ready ToolUseEnv over your tools and tasks (env options as for gym.make: reward, max_turns...).

    Tools are Python functions or ``Tool`` objects, and/or the operations of an ``openapi`` document
    served at ``base_url``.

    The env is also registered with Gymnasium, under ``env_id`` or else the next free
    ``tooluse/Custom<n>-v0``, with these env options as the spec's kwargs: ``env.spec.id`` then works with
    ``gym.make`` and ``gym.make_vec`` (each env built from it gets its own domain over the same tools and
    tasks). Calling ``make_env`` again with the same ``env_id`` replaces that registration; an id
    registered otherwise (one of the suite's, say) is refused.
    """
    import gymnasium as gym
    from gymnasium.envs.registration import registry

    if env_id is None:
        env_id = _free_id()
    elif env_id in registry and env_id not in _CUSTOM_IDS:
        raise ConfigError(f"{env_id!r} is already registered with Gymnasium; choose another env_id")
    previous = registry.pop(env_id, None)
    try:
        gym.register(
            id=env_id,
            entry_point=CustomEnvFactory(tools, tasks, openapi, base_url),
            kwargs=dict(env_options),
            disable_env_checker=True,  # as the suite's ids (see tooluse_envs.register_all)
        )
        env = gym.make(env_id).unwrapped  # the env itself (as before), with the spec gym.make gives it
    except BaseException:
        registry.pop(env_id, None)  # a make_env that fails leaves no id behind (nor replaces the old one)
        if previous is not None:
            registry[env_id] = previous
        raise
    _CUSTOM_IDS.add(env_id)
    return env
