"""An OpenAI-compatible chat-completions server (the app behind ``mentor serve``) over an ``HFPolicy``.

Serves a trained student (``hf:runs/x/final_model``) or a preset to anything that speaks the OpenAI API
— ``OpenAIPolicy``, ``mentor eval --agent openai:...``, other frameworks. Tool calls the model writes
as ``<tool_call>{json}</tool_call>`` come back as structured ``tool_calls`` (arguments as JSON strings,
as the API specifies); a turn with a malformed block is returned as plain text so the client's env can
report the problem, exactly as it would for a local policy.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mentor_agents.policies.base import SamplingParams
from tooluse_envs.parsing import parse_turn


def env_messages(wire: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI wire messages (tool-call arguments as JSON strings) to chat-template form (dicts)."""
    out = []
    for message in wire:
        calls = message.get("tool_calls")
        if calls:
            parsed = []
            for call in calls:
                fn = dict(call.get("function", {}))
                if isinstance(fn.get("arguments"), str):
                    fn["arguments"] = json.loads(fn["arguments"] or "{}")
                parsed.append({**call, "function": fn})
            message = {**message, "tool_calls": parsed}
        out.append(message)
    return out


def completion_message(text: str) -> tuple[dict[str, Any], bool]:
    """The assistant message for a generated turn, and whether it carries tool calls."""
    turn = parse_turn(text)
    if not turn.calls or any(call.error for call in turn.calls):
        return {"role": "assistant", "content": text}, False
    calls = [
        {
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)},
        }
        for call in turn.calls
    ]
    return {"role": "assistant", "content": turn.content or None, "tool_calls": calls}, True


def build_app(policy: Any, model_name: str) -> Starlette:
    """The ASGI app; generation runs in a worker thread, one request at a time (one model)."""
    lock = threading.Lock()

    def generate(body: dict[str, Any]) -> dict[str, Any]:
        sampling = SamplingParams(
            temperature=float(body.get("temperature", 1.0)),
            top_p=float(body.get("top_p", 1.0)),
            max_new_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 256),
            seed=body.get("seed"),
        )
        with lock:
            (gen,) = policy.generate([env_messages(body["messages"])], sampling, tools=body.get("tools"))
        message, has_calls = completion_message(gen.text)
        reason = "length" if gen.finish_reason == "length" else ("tool_calls" if has_calls else "stop")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_name,
            "choices": [{"index": 0, "message": message, "finish_reason": reason}],
            "usage": {"completion_tokens": len(gen.token_ids)},
        }

    async def chat_completions(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            if not isinstance(body.get("messages"), list) or not body["messages"]:
                raise ValueError('"messages" must be a non-empty list')
        except ValueError as exc:
            return JSONResponse({"error": {"message": str(exc), "type": "invalid_request_error"}}, status_code=400)
        return JSONResponse(await asyncio.to_thread(generate, body))

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "mentor"}]})

    return Starlette(
        routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"]), Route("/v1/models", models)]
    )
