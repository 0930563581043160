"""REST: tool use against mock HTTP services described by OpenAPI documents.

Six services (``tooluse_envs.rest.services``) run as real Starlette apps; every OpenAPI operation is a
tool, generated from the document. A tool call is an HTTP request; the observation is
``HTTP <status>: <JSON body>``, errors included. In-domain tasks (``train``, ``test_id``) ask for
information from the weather, calendar, shop and bank services; ``test_ood`` adds two services never
seen in training (flights, library), page walking, recovery from 409 errors, and tasks that change a
service's state, checked on its tables at the end of the episode, and in-domain tasks reworded — three
named axes (``rest.generation.OOD_AXES``). Where a task can be solved several ways (a direct lookup or
list-then-get, a filter or walking pages, one listing or several lookups), the teacher's way is chosen
per task and the others ship as ``reference.alternatives``.

Options (``gym.make(id, transport=..., base_url=...)``): ``transport="inprocess"`` (default; the apps
are called directly, no sockets) or ``"http"`` (uvicorn on a loopback port, one server per process,
started at the first reset and stopped at ``close()``); ``base_url`` points at a server you run
yourself (``python -m tooluse_envs.rest.serve``). Every episode gets a fresh copy of every service's
data, whichever transport serves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from tooluse_envs.domain import Domain, Session, check_answer
from tooluse_envs.episode import Outcome
from tooluse_envs.errors import ConfigError, TaskError
from tooluse_envs.rest import services
from tooluse_envs.rest.checks import check_state, services_of
from tooluse_envs.rest.client import RestClient, RestError
from tooluse_envs.rest.generation import Generator
from tooluse_envs.rest.hub import build_hub
from tooluse_envs.rest.openapi import Operation, spec_operations
from tooluse_envs.rest.transport import InProcessTransport, acquire_server, release_server
from tooluse_envs.tasks import Task
from tooluse_envs.tools import Tool

TRANSPORTS = ("inprocess", "http")
LOCAL_URL = "http://rest.local"


@dataclass(frozen=True)
class RestConfig:
    """How the environment reaches the services."""

    transport: str = "inprocess"
    """``"inprocess"`` (ASGI called directly) or ``"http"`` (a loopback uvicorn server)."""
    base_url: str | None = None
    """A running hub to use instead (implies HTTP), e.g. ``http://127.0.0.1:8000``."""
    timeout_s: float = 10.0
    """Per-request timeout over HTTP."""

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ConfigError(f"unknown transport {self.transport!r}; choose one of {', '.join(TRANSPORTS)}")


@cache
def operations() -> dict[str, Operation]:
    """Every operation of every service, by operationId (= tool name), each path under ``/<service>``."""
    out: dict[str, Operation] = {}
    for name in services.ALL:
        service = services.load(name)
        for operation in spec_operations(name, service.spec, prefix=f"/{name}"):
            if operation.name in out:
                raise TaskError(f"operationId {operation.name!r} is used by {out[operation.name].service} and {name}")
            out[operation.name] = operation
    return out


@cache
def _tools() -> dict[str, Tool]:
    return {name: operation.tool() for name, operation in operations().items()}


def service_tools(names: tuple[str, ...]) -> tuple[str, ...]:
    """The tools a task on these services offers: their operations in document order, led by one that has
    required arguments (so a bare ``{}`` call of the first tool is a schema error, never a side effect)."""
    tools = [op.name for op in operations().values() if op.service in names]
    ops = operations()
    first = next((name for name in tools if ops[name].required), tools[0])
    return (first, *(name for name in tools if name != first))


def local_client() -> RestClient:
    """A client of a fresh in-process hub with every service."""
    app = build_hub([services.load(name) for name in services.ALL])
    return RestClient(httpx.Client(transport=InProcessTransport(app), base_url=LOCAL_URL))


class RestSession(Session):
    """One episode: its own state in every service, opened at reset and dropped at the end."""

    def __init__(self, task: Task, tools: dict[str, Tool], client: RestClient) -> None:
        super().__init__(task, tools)
        self.client = client
        self.episode_id = client.open_episode()

    def call(self, tool: Tool, arguments: dict[str, Any]) -> str:
        return self.client.execute(operations()[tool.name], arguments, self.episode_id).observation()

    def check(self, answer: str | None) -> Outcome:
        """Answer tasks compare the boxed answer; state tasks read the services' final tables."""
        if self.task.expected["kind"] != "state":
            return check_answer(self.task.expected, answer)
        checks = self.task.expected["check"]
        try:
            state = self.client.state(self.episode_id, services_of(checks))
        except (RestError, httpx.HTTPError) as exc:
            # the hub forgot the episode (evicted after MAX_EPISODES newer ones) or the server is gone:
            # the changes cannot be seen, so the task is not done, and the details say why
            return Outcome(False, 0.0, {"error": f"the final state could not be read: {exc}"})
        return check_state(checks, state)

    def close(self) -> None:
        try:
            self.client.close_episode(self.episode_id)
        except httpx.HTTPError:  # the server is already gone; its episodes went with it
            pass


class RestDomain(Domain):
    """Mock REST services; tools generated from their OpenAPI documents."""

    name = "rest"
    instructions = (
        "Each tool calls one operation of a REST API and returns 'HTTP <status>: <JSON body>'. Errors come "
        "back the same way (for example 'HTTP 404: {...}'); read them and adjust your next call."
    )

    def __init__(self, transport: str = "inprocess", base_url: str | None = None, timeout_s: float = 10.0) -> None:
        self.config = RestConfig(transport, base_url, timeout_s)
        self._client: RestClient | None = None
        self._server_key: tuple[str, ...] | None = None

    def tools(self) -> dict[str, Tool]:
        return _tools()

    def client(self) -> RestClient:
        """The client for this domain's transport, created at first use (the http server starts here)."""
        if self._client is None:
            config = self.config
            if config.base_url is not None:
                self._client = RestClient(httpx.Client(base_url=config.base_url, timeout=config.timeout_s))
            elif config.transport == "http":
                key = services.ALL
                server = acquire_server(key, lambda: build_hub([services.load(name) for name in key]))
                self._server_key = key
                # the token travels as a header, never in a URL (error texts print the base URL)
                http = httpx.Client(base_url=server.origin, headers=server.headers, timeout=config.timeout_s)
                self._client = RestClient(http)
            else:
                self._client = local_client()
        return self._client

    def open(self, task: Task) -> Session:
        return RestSession(task, self.task_tools(task), self.client())

    def close(self) -> None:
        """Close the client and give back the shared server (the last user stops it)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server_key is not None:
            release_server(self._server_key)
            self._server_key = None

    def generate(self, split: str) -> list[Task]:
        """Fill the split from its templates (deterministic: fixed seed, in-process; see ``rest.generation``)."""
        client = local_client()
        try:
            return Generator(client, operations(), _tools(), service_tools).generate(split)
        finally:
            client.close()


DOMAIN_CLASS = RestDomain
