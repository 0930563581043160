"""Task templates: each draws parameters, then RUNS its calls against a live episode of the services.

A template never writes an answer by hand: ``run`` makes the reference calls through ``Api`` (the same
executor the environment uses), reads the answer off the responses, and for state tasks returns checks
that the generator verifies — they must fail on the seed state and hold after the reference run.

A template may offer several strategies (``Template.strategies``): ways of reaching the same answer
with different calls (a direct lookup or list-then-get, a filter or walking pages). The generator runs
each in a fresh episode; ``Template.teacher`` picks the teacher's one per task from the problem's
features, and the others become ``reference.alternatives``. Helpers read ``Api.strategy`` to decide
which calls to make.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tooluse_envs.domain import format_result
from tooluse_envs.rest.client import ApiResponse, RestClient
from tooluse_envs.rest.openapi import Operation
from tooluse_envs.tasks import ReferenceCall
from tooluse_envs.tools import Tool

DONE = "done"
STATE_SUFFIX = " When you have finished, reply with \\boxed{done}."


DIRECT = "direct"


class TemplateError(RuntimeError):
    """A template made a call its service refused unexpectedly, or produced an inconsistent task."""


class NotApplicable(Exception):
    """This strategy cannot solve this particular task (e.g. one shared search when the names differ)."""


class Api:
    """Runs reference calls in one episode and records them (name and arguments, in order)."""

    def __init__(
        self,
        client: RestClient,
        operations: dict[str, Operation],
        tools: dict[str, Tool],
        episode_id: str,
        strategy: str = DIRECT,
    ):
        self.client, self.operations, self.tools, self.episode_id = client, operations, tools, episode_id
        self.strategy = strategy
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


def exact(value: Any, decimals: int) -> Decimal:
    """``value`` as a decimal rounded half-up to ``decimals`` places (money and measures, never float round)."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def total(values: Any, decimals: int) -> Decimal:
    """An exact decimal sum of API values (floats like 12.3 are read as the decimals they print as)."""
    return exact(sum((Decimal(str(v)) for v in values), Decimal(0)), decimals)


def number(question: str, value: Any, *tags: str, decimals: int) -> Draft:
    """A number task whose answer must equal ``value`` at ``decimals`` places (no tolerance).

    The value is stored as the shortest float that prints as the decimal, so the checker reads it back
    exactly; an integer stays an integer.
    """
    rounded = exact(value, decimals)
    if rounded != Decimal(str(value)):
        raise TemplateError(f"{question}: {value} is not exact at {decimals} decimals; round it and say so")
    stored: int | float = int(rounded) if decimals == 0 else float(rounded)
    return Draft(question, {"kind": "number", "answer": stored, "decimals": decimals}, format_result(stored), tags)


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
PARAPHRASE = "paraphrase"


def ask(p: Params, standard: str, paraphrase: str) -> str:
    """The question in the in-domain wording, or in the paraphrase axis's wording (same computation)."""
    return paraphrase if p.get("wording") == PARAPHRASE else standard


@dataclass(frozen=True)
class Template:
    """A family of tasks on some services.

    Attributes:
        name: Unique name; with the drawn parameters it is the task's identity across splits.
        services: The services whose tools the task offers.
        draw: Parameters from the split's RNG (JSON-serialisable; equal parameters mean the same task).
        run: Makes the reference calls and returns the task, or None when this draw makes a poor task;
            reads ``api.strategy`` and raises ``NotApplicable`` for a strategy that cannot solve it.
        strategies: The ways ``run`` knows to solve the task (the first is the default).
        teacher: Chooses the teacher's strategy for one task from its parameters (an RNG seeded per
            task breaks ties where the features leave the choice open); None: the first strategy.
    """

    name: str
    services: tuple[str, ...]
    draw: Callable[[random.Random], Params]
    run: Callable[[Api, Params, random.Random], Draft | None]
    strategies: tuple[str, ...] = (DIRECT,)
    teacher: Callable[[Params, random.Random], str] | None = None

    def teacher_strategy(self, p: Params, rng: random.Random) -> str:
        return self.teacher(p, rng) if self.teacher is not None else self.strategies[0]
