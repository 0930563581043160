"""``OpenAIPolicy``: any OpenAI-compatible chat-completions endpoint (vLLM serve, llama.cpp, OpenAI, ...).

Message-in, text-out: the endpoint tokenises with its own template, so there are no token ids or
log-probs (``accepts_token_ids = False``) and the trajectories serve as teacher data (PolicyTeacher)
or for evaluation, not for the PPO ratio. Tool calls the endpoint returns as structured
``tool_calls`` are rendered back into ``<tool_call>`` text so every policy's turns read the same.
An endpoint that cannot be reached, answers an HTTP error or does not answer JSON raises ``UserError``
naming the URL (a wrong port or path in ``openai:<base_url>#<model>`` is one line, not a traceback).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mentor_agents.errors import UserError
from mentor_agents.policies.base import FinishReason, Generation, Prompt, SamplingParams
from tooluse_envs.parsing import render_turn


class OpenAIPolicy:
    """Chat completions over HTTP (stdlib ``urllib``); requests in a batch run in parallel threads."""

    accepts_token_ids = False

    def __init__(
        self,
        model: str,
        base_url: str = "http://localhost:8000/v1",
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_parallel: int = 8,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise UserError(
                f"{base_url}: the base URL must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1)"
            )
        self.model, self.base_url = model, base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.timeout_s, self.max_parallel = timeout_s, max_parallel

    def _request(self, messages: list[dict], sampling: SamplingParams, tools: list[dict] | None) -> dict:
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
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        url = request.full_url
        hint = "check the base URL and port in openai:<base_url>#<model> (e.g. http://127.0.0.1:8000/v1)"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 (user-given URL)
                text = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode(errors="replace").strip().replace("\n", " ")
            what = f"model {self.model!r} or the path" if exc.code in (400, 404, 422) else "the endpoint"
            raise UserError(f"{url} answered HTTP {exc.code} {exc.reason} ({detail}): check {what}; {hint}") from exc
        except urllib.error.URLError as exc:
            raise UserError(f"cannot reach {url} ({exc.reason}): is the server running? {hint}") from exc
        except TimeoutError as exc:
            raise UserError(f"{url} did not answer within {self.timeout_s:g}s: {hint}") from exc
        try:
            return json.loads(text)
        except ValueError as exc:
            raise UserError(f"{url} did not answer JSON: is it an OpenAI-compatible endpoint? {hint}") from exc

    def generate(
        self, prompts: list[Prompt], sampling: SamplingParams, tools: list[dict] | None = None
    ) -> list[Generation]:
        """One completion per conversation; token ids and log-probs are left empty."""
        if any(p and not isinstance(p[0], dict) for p in prompts):
            raise TypeError("OpenAIPolicy takes conversations (lists of message dicts), not token ids")
        with ThreadPoolExecutor(self.max_parallel) as pool:
            replies = list(pool.map(lambda p: self._request(p, sampling, tools), prompts))
        return [_to_generation(reply) for reply in replies]


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
    return Generation(text, [], [], reason)
