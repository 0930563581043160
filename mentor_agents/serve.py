"""An OpenAI-compatible chat-completions server (the app behind ``mentor serve``) over an ``HFPolicy``.

Serves a trained student (``hf:runs/x/final_model``) or a preset to anything that speaks the OpenAI API
— ``OpenAIPolicy``, ``mentor eval --agent openai:...``, other frameworks. Tool calls the model writes
as ``<tool_call>{json}</tool_call>`` come back as structured ``tool_calls`` (arguments as JSON strings,
as the API specifies); a turn with a malformed block is returned as plain text so the client's env can
report the problem, exactly as it would for a local policy.

Served = evaluated: ``mentor eval --agent hf:`` plays token-in-token-out (``mentor_agents.rollout``): every
later turn's prompt holds the earlier turns *as sampled*, token for token. A client sends the conversation
back as messages instead, and what it sends is not what the model wrote: the env keeps a turn's tool calls
parsed (malformed blocks dropped, JSON re-serialised, text stripped), so re-rendering it with the chat
template shows the model a history it never wrote, and the episodes part ways after the first such turn
(one greedy checkpoint had 34% invalid calls through ``mentor eval``, 52% through the server). So
the server remembers, per conversation, the token ids it fed and sampled (``TurnHistory``); a request
whose earlier assistant turn says what one of the server's turns said (same text outside the calls, same
valid calls) continues from those ids plus the newly rendered messages, exactly as the rollout does.
Anything else (another server's turns, an edited history, a restart, a conversation more than
``HISTORY_SIZE`` others ago) is rendered from the messages as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import uuid
from array import array
from collections import OrderedDict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mentor_agents.policies.base import Generation, Prompt, SamplingParams
from mentor_agents.tokenizer import encode, render
from tooluse_envs.parsing import parse_openai_message, parse_turn

HISTORY_SIZE = 4096
"""Conversations whose token ids the server keeps (least recently used dropped first): an evaluation has
``--batch-size`` in flight per client, and one entry is a few KB (token ids as a C int array)."""


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


def _canonical(message: dict[str, Any]) -> Any:
    """What a message says, as the env reads it: an assistant turn by its text outside the tool-call blocks
    and its valid calls (name, arguments as data), whatever their ids, layout or JSON spelling; any other
    message by its role and content. A turn the server generated and the env's record of it agree here."""
    if message.get("role") != "assistant":
        return [message.get("role"), message.get("content")]
    turn = parse_openai_message(message)
    return ["assistant", turn.content, [[call.name, call.arguments] for call in turn.calls if call.error is None]]


def conversation_key(messages: list[dict[str, Any]], tools: list[dict] | None) -> str:
    """sha256 of the conversation's canonical form and its tools (see ``_canonical``)."""
    data = json.dumps([tools or [], [_canonical(m) for m in messages]], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


class TurnHistory:
    """Token ids of the conversations this server generated, keyed by ``conversation_key`` through the
    generated turn: the prompt of a follow-up request is those ids plus the text the chat template adds
    after that turn's EOS, tokenised on its own (what ``rollout`` appends), so the model sees its own
    tokens again. Without a tokenizer (a policy that renders for itself) prompts stay messages."""

    def __init__(self, tokenizer: Any | None, size: int = HISTORY_SIZE) -> None:
        self.tokenizer, self.size = tokenizer, size
        self._ids: OrderedDict[str, array] = OrderedDict()

    def prompt(self, wire: list[dict[str, Any]], tools: list[dict] | None) -> Prompt:
        """Token ids for the request (remembered ones where they apply), or its messages without a tokenizer."""
        messages = env_messages(wire)
        if self.tokenizer is None:
            return messages
        for end in range(len(wire) - 1, -1, -1):  # the latest remembered assistant turn
            if wire[end].get("role") != "assistant":
                continue
            key = conversation_key(wire[: end + 1], tools)
            known = self._ids.get(key)
            delta = self._delta(messages, end, tools) if known is not None else None
            if known is not None and delta is not None:
                self._ids.move_to_end(key)
                return known.tolist() + encode(self.tokenizer, delta)
        return encode(self.tokenizer, render(self.tokenizer, messages, tools, generation_prompt=True))

    def _delta(self, messages: list[dict[str, Any]], end: int, tools: list[dict] | None) -> str | None:
        """The text after ``messages[end]``'s EOS up to the generation prompt (None: the template is not
        prefix-preserving, so remembered ids cannot be continued)."""
        from mentor_agents.rollout import tool_turn_delta

        try:
            return tool_turn_delta(self.tokenizer, messages, end, tools)
        except ValueError:
            return None

    def remember(self, wire: list[dict[str, Any]], tools: list[dict] | None, prompt: Prompt, gen: Generation) -> None:
        """Keep prompt + sampled ids under the conversation through this turn; a turn cut off (no EOS) is not
        continued token for token, so it is not kept."""
        if self.tokenizer is None or gen.finish_reason != "stop" or not prompt or isinstance(prompt[0], dict):
            return
        key = conversation_key([*wire, {"role": "assistant", "content": gen.text}], tools)
        self._ids[key] = array("i", [*prompt, *gen.token_ids])
        self._ids.move_to_end(key)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


def build_app(
    policy: Any, model_name: str, tokenizer: Any | None = None, history_size: int = HISTORY_SIZE
) -> Starlette:
    """The ASGI app; generation runs in a worker thread, one request at a time (one model).

    ``tokenizer`` (default: the policy's own, when it takes token ids) renders prompts and keeps each
    conversation's token ids (``TurnHistory``), so a follow-up turn is generated from the same ids as
    ``mentor eval --agent hf:`` would; with none, the policy gets the messages."""
    lock = threading.Lock()
    if tokenizer is None and getattr(policy, "accepts_token_ids", True):
        tokenizer = getattr(policy, "tokenizer", None)
    history = TurnHistory(tokenizer, history_size)

    def generate(body: dict[str, Any]) -> dict[str, Any]:
        sampling = SamplingParams(
            temperature=float(body.get("temperature", 1.0)),
            top_p=float(body.get("top_p", 1.0)),
            max_new_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 256),
            seed=body.get("seed"),
        )
        wire, tools = body["messages"], body.get("tools")
        with lock:
            prompt = history.prompt(wire, tools)
            (gen,) = policy.generate([prompt], sampling, tools=tools)
            history.remember(wire, tools, prompt, gen)
        message, has_calls = completion_message(gen.text)
        reason = "length" if gen.finish_reason == "length" else ("tool_calls" if has_calls else "stop")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_name,
            "choices": [{"index": 0, "message": message, "finish_reason": reason}],
            "usage": _usage(prompt, gen),
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


def _usage(prompt: Prompt, gen: Generation) -> dict[str, int]:
    """OpenAI's ``usage``: generated tokens (EOS included, as the rollout counts them), and the prompt's
    where the server tokenised it."""
    usage = {"completion_tokens": len(gen.token_ids)}
    if prompt and not isinstance(prompt[0], dict):
        usage |= {"prompt_tokens": len(prompt), "total_tokens": len(prompt) + len(gen.token_ids)}
    return usage
