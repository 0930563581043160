"""The generic executor: a tool call becomes an HTTP request to the hub, the response an observation.

The same client serves the environment's sessions and the task generator, so a reference trajectory is
produced by exactly the code path a policy's calls take.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from tooluse_envs.domain import format_result
from tooluse_envs.rest.openapi import Operation, build_request
from tooluse_envs.rest.service import EPISODE_HEADER


@dataclass(frozen=True)
class ApiResponse:
    """Status, parsed JSON body (text when it is not JSON, None when empty) and headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def observation(self) -> str:
        """What the policy reads: ``HTTP 200: {...}``, errors alike (``HTTP 404: {...}``)."""
        text = "(no content)" if self.body is None else format_result(self.body)
        return f"HTTP {self.status}: {text}"

    @classmethod
    def from_httpx(cls, response: httpx.Response) -> ApiResponse:
        body: Any = None
        if response.content:
            try:
                body = json.loads(response.content)
            except ValueError:
                body = response.text
        return cls(response.status_code, body, dict(response.headers))


class RestError(RuntimeError):
    """The hub refused an episode operation (wrong base_url, server gone, ...)."""


class RestClient:
    """Episodes, tool calls and state reads against one hub, over any httpx transport."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _expect(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code >= 300:
            raise RestError(f"{what} failed: HTTP {response.status_code} {response.text[:200]}")
        return response

    def open_episode(self) -> str:
        """A fresh state of every service, isolated from other episodes."""
        response = self._expect(self.http.post("/_episodes"), f"opening an episode at {self.http.base_url}")
        return response.json()["episode_id"]

    def close_episode(self, episode_id: str) -> None:
        self.http.delete(f"/_episodes/{episode_id}")

    def state(self, episode_id: str, services: list[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """The episode's tables per service, as state checks read them."""
        response = self.http.get(f"/_episodes/{episode_id}/state", params={"service": services})
        return self._expect(response, "reading the episode state").json()

    def execute(self, operation: Operation, arguments: dict[str, Any], episode_id: str) -> ApiResponse:
        """Run one tool call (arguments already validated against the tool's schema)."""
        request = build_request(operation, arguments)
        response = self.http.request(
            request.method,
            request.path,
            params=request.params or None,
            json=request.json,
            headers={EPISODE_HEADER: episode_id, **request.headers},
        )
        return ApiResponse.from_httpx(response)

    def close(self) -> None:
        self.http.close()
