"""Checking an action at the env boundary, before anything parses or runs it.

A policy's turn comes from a model, a client library or a user's script, so ``env.step`` sees whatever
Python value they produce. The checks here turn every value the rest of the env cannot handle into a
sentence the policy reads, so that parsing, validation and the tools only ever see JSON data of a
bounded size:

* the action's size is measured first, against the declared 1 MiB action space, and a larger action is
  refused without being parsed (a 100 MB turn must not cost a 100 MB parse);
* a message dict must have string (or null) ``content`` and ``finish_reason``;
* tool-call data must be JSON: objects with string keys, lists, strings, booleans, null, finite numbers,
  integers of at most ``MAX_INT_DIGITS`` digits (Python refuses to print longer ones, and no tool needs
  them), nested at most ``MAX_JSON_DEPTH`` deep.

JSON text is read by ``load_json``, which applies the same rules while parsing, so both ways of writing a
call (text in ``<tool_call>`` blocks, or OpenAI ``tool_calls`` dicts) meet one set of limits.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_ACTION_CHARS = 1 << 20  # the action space's max_length: the largest turn the env reads
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 1000
_INT_BOUND = 10**MAX_INT_DIGITS
_MAX_NUMBER_TEXT = MAX_INT_DIGITS + 100  # a JSON number literal longer than this is refused unread
_UNKNOWN_SIZE = 16  # what a value of a non-JSON type counts for in the size estimate


class ActionError(ValueError):
    """An action (or part of one) the env cannot read; the message is what the policy is told."""


def text_size_problem(text: str, limit: int = MAX_ACTION_CHARS) -> str | None:
    """Why a text action is too large to read, or None."""
    if len(text) > limit:
        return f"the action has {len(text)} characters; the limit is {limit}, so it was not read"
    return None


def _size(value: Any, budget: int, depth: int = 0) -> int:
    """About how many characters ``value`` takes as JSON, counting no further than ``budget``.

    Stops as soon as the budget is spent and never descends deeper than ``MAX_JSON_DEPTH`` (a list that
    contains itself is reported later, by ``json_problem``), so measuring costs no more than the limit.
    """
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 1  # about the decimal digits, without printing the number
    if isinstance(value, float):
        return 24
    if depth > MAX_JSON_DEPTH or not isinstance(value, (dict, list, tuple, set, frozenset)):
        return _UNKNOWN_SIZE
    total = 2
    items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
    for key, item in items:
        total += 1 + (_size(key, budget - total, depth + 1) if key is not None else 0)
        total += _size(item, budget - total, depth + 1)
        if total > budget:
            break
    return total


def message_problem(message: dict[Any, Any], limit: int = MAX_ACTION_CHARS) -> str | None:
    """Why an assistant message dict cannot be read as a turn at all, or None.

    Only what the env reads is looked at (``content``, ``tool_calls``, ``finish_reason``); the tool
    calls' own contents are checked call by call (``json_problem``), so one bad call does not void the
    good ones beside it.
    """
    size = sum(_size(message.get(key), limit) for key in ("content", "tool_calls", "finish_reason"))
    if size > limit:
        return f"the action is larger than the limit of {limit} characters, so it was not read"
    content = message.get("content")
    if content is not None and not isinstance(content, str) and text_parts(content) is None:
        return f'"content" must be a string, null or a list of text parts, not {_type_name(content)}'
    reason = message.get("finish_reason")
    if reason is not None and not isinstance(reason, str):
        return f'"finish_reason" must be a string such as "stop" or "length", not {_type_name(reason)}'
    return None


def text_parts(content: Any) -> str | None:
    """OpenAI's list form of ``content`` (``[{"type": "text", "text": ...}, ...]``) as one string, or None."""
    if not isinstance(content, list):
        return None
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type", "text") != "text" or not isinstance(part.get("text"), str):
            return None
        texts.append(part["text"])
    return "".join(texts)


def _type_name(value: Any) -> str:
    return f"a {type(value).__name__}"


def json_problem(value: Any, where: str = "", depth: int = 0) -> str | None:
    """Why ``value`` is not JSON data the tools may receive, naming where in it; None when it is.

    JSON data: dicts with string keys, lists, strings, booleans, None, finite floats, and integers of at
    most ``MAX_INT_DIGITS`` digits, nested at most ``MAX_JSON_DEPTH`` deep.
    """
    at = f" at {where}" if where else ""
    if depth > MAX_JSON_DEPTH:
        return f"the value is nested more than {MAX_JSON_DEPTH} levels deep{at}"
    if value is None or isinstance(value, (str, bool)):
        return None
    if isinstance(value, int):
        return None if -_INT_BOUND < value < _INT_BOUND else f"an integer of more than {MAX_INT_DIGITS} digits{at}"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a JSON number{at}"
    if isinstance(value, list):
        for i, item in enumerate(value):
            problem = json_problem(item, f"{where}/{i}", depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"object keys must be strings, found {_type_name(key)}{at}"
            problem = json_problem(item, f"{where}/{key[:40]}", depth + 1)
            if problem is not None:
                return problem
        return None
    return f"{_type_name(value)} is not JSON (use strings, numbers, booleans, null, lists and objects){at}"


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ActionError(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > _MAX_NUMBER_TEXT:
        raise ActionError(f"a number written with more than {_MAX_NUMBER_TEXT} characters")
    value = float(text)
    if not math.isfinite(value):
        raise ActionError(f"the number {text[:40]} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ActionError(f"{name} is not a JSON number")


def load_json(text: str) -> Any:
    """``json.loads`` with the limits of ``json_problem``; raises ActionError naming what is wrong.

    Number literals are checked by length before Python converts them (a 5,000-digit integer would
    otherwise raise a ValueError of Python's own, and a 10**6-digit one cost seconds), ``NaN`` and
    ``Infinity`` are refused, and nesting is bounded.
    """
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ActionError(f"not valid JSON ({exc.msg} at char {exc.pos})") from None
    except RecursionError:
        raise ActionError(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep") from None
    problem = json_problem(value)
    if problem is not None:
        raise ActionError(problem)
    return value
