"""Reading assistant turns: Hermes-style ``<tool_call>{json}</tool_call>`` blocks and ``\\boxed{}`` answers.

The parser is tolerant of layout (whitespace, several calls in a turn, arguments given as a JSON
string, as OpenAI's API sends them) and strict about content: each block must hold one JSON object with
a string ``name`` and an object of ``arguments``, nothing else. A block that fails is returned as a call
with an ``error`` so the env can tell the policy what went wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tooluse_envs.actions import ActionError, json_problem, load_json, text_parts

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
_BLOCK = re.compile(r"<tool_call>(.*?)(</tool_call>|$)", re.DOTALL)
_ALLOWED_KEYS = {"name", "arguments"}


@dataclass
class ParsedCall:
    """One tool call as the policy wrote it. ``error`` is set when it could not be read."""

    name: str | None
    arguments: dict[str, Any] | None
    error: str | None = None
    raw: str = ""


@dataclass
class ParsedTurn:
    """An assistant turn split into its free text and its tool calls."""

    content: str
    calls: list[ParsedCall] = field(default_factory=list)

    @property
    def has_calls(self) -> bool:
        return bool(self.calls)


def _read_call_object(obj: Any, raw: str) -> ParsedCall:
    if not isinstance(obj, dict):
        return ParsedCall(None, None, f"a tool call must be a JSON object, got {type(obj).__name__}", raw)
    extra = set(obj) - _ALLOWED_KEYS
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return ParsedCall(None, None, 'a tool call needs a non-empty string "name"', raw)
    if extra:
        return ParsedCall(name, None, f"unexpected keys {sorted(extra)}; use only name and arguments", raw)
    arguments = obj.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = load_json(arguments) if arguments.strip() else {}
        except ActionError as exc:
            return ParsedCall(name, None, f"arguments string: {exc}", raw)
    if not isinstance(arguments, dict):
        return ParsedCall(name, None, f'"arguments" must be an object, got {type(arguments).__name__}', raw)
    return ParsedCall(name, arguments, None, raw)


def parse_call_json(raw: str) -> ParsedCall:
    """Parse the JSON inside one ``<tool_call>`` block."""
    text = raw.strip()
    if not text:
        return ParsedCall(None, None, "empty <tool_call> block", raw)
    try:
        obj = load_json(text)
    except ActionError as exc:
        return ParsedCall(None, None, f"tool call: {exc}", raw)
    return _read_call_object(obj, raw)


def parse_turn(text: str) -> ParsedTurn:
    """Split an assistant turn into free text and tool calls (an unclosed block is an error)."""
    if TOOL_CALL_OPEN not in text:
        return ParsedTurn(text.strip())
    calls = []
    for match in _BLOCK.finditer(text):
        if not match.group(2):
            calls.append(ParsedCall(None, None, "unclosed <tool_call> block (missing </tool_call>)", match.group(1)))
        else:
            calls.append(parse_call_json(match.group(1)))
    content = _BLOCK.sub("", text).strip()
    return ParsedTurn(content, calls)


def parse_openai_message(message: dict[str, Any]) -> ParsedTurn:
    """Read an OpenAI assistant message dict; falls back to parsing ``content`` when it has no tool_calls.

    ``content`` must be a string, None or a list of text parts (the env checks that first, with
    ``actions.message_problem``). Each ``tool_calls`` item is checked to be JSON data before it is read,
    so a call holding bytes, a set or a 5,000-digit integer is one bad call, not a crash.
    """
    content = message.get("content")
    text = content if isinstance(content, str) else (text_parts(content) or "")
    tool_calls = message.get("tool_calls") or []
    if not tool_calls:
        return parse_turn(text)
    calls = [_read_tool_calls_item(item) for item in (tool_calls if isinstance(tool_calls, list) else [tool_calls])]
    return ParsedTurn(parse_turn(text).content, calls)


def _read_tool_calls_item(item: Any) -> ParsedCall:
    """One item of an OpenAI message's ``tool_calls``: ``{"function": {"name": ..., "arguments": ...}}``."""
    problem = json_problem(item, "tool_calls item")
    if problem is not None:
        return ParsedCall(None, None, f"tool call: {problem}", "")
    function = item.get("function") if isinstance(item, dict) else None
    if not isinstance(function, dict):
        return ParsedCall(None, None, 'each tool_calls item needs a "function" object', _preview(item))
    return _read_call_object(function, json.dumps(function, ensure_ascii=False))


def _preview(value: Any) -> str:
    """A short view of JSON data for ``ParsedCall.raw`` (the data is JSON-checked, so it always prints)."""
    return json.dumps(value, ensure_ascii=False)[:200]


def render_tool_call(name: str, arguments: dict[str, Any]) -> str:
    """The canonical text of one tool call (what a reference policy emits)."""
    return (
        f"{TOOL_CALL_OPEN}\n{json.dumps({'name': name, 'arguments': arguments}, ensure_ascii=False)}\n{TOOL_CALL_CLOSE}"
    )


def render_turn(content: str, calls: list[tuple[str, dict[str, Any]]]) -> str:
    """An assistant turn with free text followed by tool calls."""
    parts = [content] if content else []
    parts += [render_tool_call(name, args) for name, args in calls]
    return "\n".join(parts)


def extract_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` in ``text`` (nested braces allowed), or None.

    An empty box counts as no answer, as in MENTOR's reward.
    """
    if "\\boxed{" not in text:
        return None
    closing: dict[int, int] = {}  # index of "{" -> index of its "}", one linear pass
    stack: list[int] = []
    for match in _BRACE.finditer(text):
        if match.group() == "{":
            stack.append(match.start())
        elif stack:
            closing[stack.pop()] = match.start()
    opener = len("\\boxed{") - 1
    for box in reversed([m.start() for m in _BOXED.finditer(text)]):
        close = closing.get(box + opener)
        if close is not None:
            return text[box + opener + 1 : close].strip() or None
    return None


_BRACE = re.compile(r"[{}]")
_BOXED = re.compile(r"\\boxed\{")
