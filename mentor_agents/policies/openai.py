"""``OpenAIPolicy``: any OpenAI-compatible chat-completions endpoint (vLLM serve, llama.cpp, OpenAI, ...).

Message-in, text-out: the endpoint tokenises with its own template, so there are no token ids or
log-probs (``accepts_token_ids = False``) and the trajectories serve as teacher data (PolicyTeacher)
or for evaluation, not for the PPO ratio. Tool calls the endpoint returns as structured
``tool_calls`` are rendered back into ``<tool_call>`` text so every policy's turns read the same.
An endpoint that cannot be reached, answers an HTTP error or does not answer JSON raises ``UserError``
naming the URL (a wrong port or path in ``openai:<base_url>#<model>`` is one line, not a traceback).

Transient failures are retried, a bounded number of times with exponential backoff (and the server's
``Retry-After`` where it sends one, capped): a refused or dropped connection, a connect timeout, HTTP 429
and HTTP 5xx. A busy server or one restarting mid-evaluation then costs seconds instead of the run. A
read timeout is not retried (the server is working on the request; asking again doubles the wait), nor
is any other 4xx (a wrong model or path does not fix itself).
"""

from __future__ import annotations

import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from mentor_agents.errors import UserError
from mentor_agents.policies.base import FinishReason, Generation, Prompt, SamplingParams
from tooluse_envs.parsing import render_turn

HINT = "check the base URL and port in openai:<base_url>#<model> (e.g. http://127.0.0.1:8000/v1)"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses worth asking again: rate limited, or a server error that may be gone in a second."""
RETRY_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)
"""Connection failures worth asking again (refused, not yet listening, dropped without an answer)."""


@dataclass
class ChatGeneration(Generation):
    """A remote turn: no token ids, but the server's own count of the tokens it generated.

    ``completion_tokens`` is the response's ``usage.completion_tokens``; None when the server sent no
    usage (some OpenAI-compatible servers omit it), so a caller can tell "unknown" from a real count.
    """

    completion_tokens: int | None = None


class _Retry(Exception):
    """An attempt that failed in a way worth retrying; carries the UserError to raise if none is left."""

    def __init__(self, error: UserError, retry_after_s: float | None = None) -> None:
        super().__init__(str(error))
        self.error, self.retry_after_s = error, retry_after_s


class OpenAIPolicy:
    """Chat completions over HTTP (httpx); requests in a batch run in parallel threads on one client."""

    accepts_token_ids = False

    def __init__(
        self,
        model: str,
        base_url: str = "http://localhost:8000/v1",
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_parallel: int = 8,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise UserError(
                f"{base_url}: the base URL must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1)"
            )
        self.model, self.base_url = model, base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.timeout_s, self.max_parallel = timeout_s, max_parallel
        self.max_retries, self.backoff_s, self.max_backoff_s = max_retries, backoff_s, max_backoff_s
        self.connect_timeout_s = connect_timeout_s

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _client(self) -> httpx.Client:
        """One client per batch: its connection pool serves the batch's threads and is closed after it."""
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.connect_timeout_s, self.timeout_s))
        # No key, no header: "Bearer " with nothing after it is not a valid header value for httpx (h11).
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        limits = httpx.Limits(max_connections=self.max_parallel, max_keepalive_connections=self.max_parallel)
        return httpx.Client(timeout=timeout, headers=headers, limits=limits)

    def _body(self, messages: list[dict], sampling: SamplingParams, tools: list[dict] | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_wire_message(m) for m in messages],
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_new_tokens,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if tools:
            body["tools"] = tools
        return body

    def _request(
        self, client: httpx.Client, messages: list[dict], sampling: SamplingParams, tools: list[dict] | None
    ) -> dict:
        """One completion, retried on transient failures; any failure left is a ``UserError``."""
        body = self._body(messages, sampling, tools)
        for attempt in range(self.max_retries + 1):
            try:
                return self._attempt(client, body)
            except _Retry as retry:
                if attempt == self.max_retries:
                    raise retry.error from retry.__cause__
                time.sleep(self._delay(attempt, retry.retry_after_s))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Seconds before retry ``attempt + 1``: the server's Retry-After, else jittered exponential backoff."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_backoff_s)
        return min(self.backoff_s * 2**attempt, self.max_backoff_s) * random.uniform(0.5, 1.0)

    def _attempt(self, client: httpx.Client, body: dict[str, Any]) -> dict:
        """One POST; raises ``_Retry`` for a transient failure and ``UserError`` for a final one."""
        url = self.url
        try:
            response = client.post(url, json=body)
        except RETRY_ERRORS as exc:
            raise _Retry(UserError(f"cannot reach {url} ({exc}): is the server running? {HINT}")) from exc
        except httpx.TimeoutException as exc:
            raise UserError(f"{url} did not answer within {self.timeout_s:g}s: {HINT}") from exc
        except httpx.HTTPError as exc:
            raise UserError(f"cannot reach {url} ({exc}): is the server running? {HINT}") from exc
        if response.status_code >= 400:
            error = self._http_error(response)
            if response.status_code in RETRY_STATUS:
                raise _Retry(error, _retry_after(response))
            raise error
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise UserError(f"{url} did not answer JSON: is it an OpenAI-compatible endpoint? {HINT}") from exc

    def _http_error(self, response: httpx.Response) -> UserError:
        detail = response.content[:200].decode(errors="replace").strip().replace("\n", " ")
        code = response.status_code
        what = f"model {self.model!r} or the path" if code in (400, 404, 422) else "the endpoint"
        return UserError(f"{self.url} answered HTTP {code} {response.reason_phrase} ({detail}): check {what}; {HINT}")

    def generate(
        self, prompts: list[Prompt], sampling: SamplingParams, tools: list[dict] | None = None
    ) -> list[Generation]:
        """One completion per conversation; token ids and log-probs are left empty."""
        if any(p and not isinstance(p[0], dict) for p in prompts):
            raise TypeError("OpenAIPolicy takes conversations (lists of message dicts), not token ids")
        with self._client() as client, ThreadPoolExecutor(self.max_parallel) as pool:
            replies = list(pool.map(lambda p: self._request(client, p, sampling, tools), prompts))
        return [_to_generation(reply) for reply in replies]


def _retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds, when it is a number (an HTTP date is ignored)."""
    value = response.headers.get("retry-after", "")
    try:
        return float(value)
    except ValueError:
        return None


def _wire_message(message: dict[str, Any]) -> dict[str, Any]:
    """The env's messages carry tool-call arguments as dicts; the wire format wants JSON strings."""
    if not message.get("tool_calls"):
        return message
    calls = []
    for call in message["tool_calls"]:
        fn = dict(call["function"])
        if not isinstance(fn["arguments"], str):
            fn["arguments"] = json.dumps(fn["arguments"], ensure_ascii=False)
        calls.append({**call, "function": fn})
    return {**message, "tool_calls": calls}


def _to_generation(reply: dict[str, Any]) -> Generation:
    choice = reply["choices"][0]
    message = choice.get("message", {})
    calls = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {})
        arguments = fn.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError:
                arguments = {"__unparsable__": arguments}
        calls.append((fn.get("name", ""), arguments))
    text = render_turn(message.get("content") or "", calls)
    reason: FinishReason = "length" if choice.get("finish_reason") == "length" else "stop"
    return ChatGeneration(text, [], [], reason, completion_tokens=_completion_tokens(reply))


def _completion_tokens(reply: dict[str, Any]) -> int | None:
    """``usage.completion_tokens`` when the server sent a usable count, else None (never a guess)."""
    usage = reply.get("usage")
    count = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return None
    return count
