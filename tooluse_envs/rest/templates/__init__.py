"""Task templates: each draws parameters, then RUNS its calls against a live episode of the services.

A template never writes an answer by hand: ``run`` makes the reference calls through ``Api`` (the same
executor the environment uses), reads the answer off the responses, and for state tasks returns checks
that the generator verifies — they must fail on the seed state and hold after the reference run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tooluse_envs.domain import format_result
from tooluse_envs.rest.client import ApiResponse, RestClient
from tooluse_envs.rest.openapi import Operation
from tooluse_envs.tasks import ReferenceCall
from tooluse_envs.tools import Tool

DONE = "done"
STATE_SUFFIX = " When you have finished, reply with \\boxed{done}."


class TemplateError(RuntimeError):
    """A template made a call its service refused unexpectedly, or produced an inconsistent task."""


class Api:
    """Runs reference calls in one episode and records them (name and arguments, in order)."""

    def __init__(self, client: RestClient, operations: dict[str, Operation], tools: dict[str, Tool], episode_id: str):
        self.client, self.operations, self.tools, self.episode_id = client, operations, tools, episode_id
        self.calls: list[ReferenceCall] = []

    def call(self, name: str, **arguments: Any) -> ApiResponse:
        """One recorded call; arguments are checked against the tool's schema like a policy's would be."""
        operation = self.operations[name]
        problem = self.tools[name].validation_error(arguments)
        if problem is not None:
            raise TemplateError(f"reference call {name}({arguments}) violates its schema: {problem}")
        self.calls.append(ReferenceCall(name, dict(arguments)))
        return self.client.execute(operation, arguments, self.episode_id)

    def ok(self, name: str, **arguments: Any) -> Any:
        """A call that must succeed; its JSON body."""
        response = self.call(name, **arguments)
        if not response.ok:
            raise TemplateError(f"reference call {name}({arguments}) failed: {response.observation()[:300]}")
        return response.body

    def fails(self, name: str, status: int, **arguments: Any) -> Any:
        """A call the task expects to fail with ``status`` (the error the policy must handle); its body."""
        response = self.call(name, **arguments)
        if response.status != status:
            raise TemplateError(f"{name}({arguments}) answered {response.status}, expected {status}")
        return response.body

    def state(self, services: list[str]) -> dict[str, Any]:
        return self.client.state(self.episode_id, services)


@dataclass(frozen=True)
class Draft:
    """What a template run yields: the question, how it is checked, and the reference's final answer."""

    question: str
    expected: dict[str, Any]
    answer: str
    tags: tuple[str, ...] = ()


def number(question: str, value: float, *tags: str) -> Draft:
    return Draft(question, {"kind": "number", "answer": value}, format_result(value), tags)


def text(question: str, value: str, *tags: str) -> Draft:
    return Draft(question, {"kind": "text", "answer": value}, value, tags)


def rows(question: str, values: list[Any], *tags: str) -> Draft:
    return Draft(question, {"kind": "rows", "answer": values}, "; ".join(map(format_result, values)), tags)


def state(question: str, checks: list[dict[str, Any]], *tags: str) -> Draft:
    return Draft(question + STATE_SUFFIX, {"kind": "state", "check": checks}, DONE, ("state", *tags))


def where(
    service: str, table: str, where: dict[str, Any], count: int | None = None, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One state check (see ``tooluse_envs.rest.checks``)."""
    check: dict[str, Any] = {"service": service, "table": table, "where": where}
    if count is not None:
        check["count"] = count
    if fields is not None:
        check["fields"] = fields
    return check


Params = dict[str, Any]


@dataclass(frozen=True)
class Template:
    """A family of tasks on some services.

    Attributes:
        name: Unique name; with the drawn parameters it is the task's identity across splits.
        services: The services whose tools the task offers.
        draw: Parameters from the split's RNG (JSON-serialisable; equal parameters mean the same task).
        run: Makes the reference calls and returns the task, or None when this draw makes a poor task.
    """

    name: str
    services: tuple[str, ...]
    draw: Callable[[random.Random], Params]
    run: Callable[[Api, Params, random.Random], Draft | None]
