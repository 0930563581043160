"""BFCL's AST matching: do the calls of one assistant turn answer the request?

The rules are BFCL's (``bfcl_eval/eval_checker/ast_eval``), written anew for JSON-argument calls:

* Irrelevance (no possible answer): correct exactly when no call was made. A ``<tool_call>`` block
  that cannot be parsed still counts as a call (BFCL would count undecodable output as "no call").
* Otherwise the turn must hold exactly as many calls as the possible answer has entries, and the calls
  must pair off one-to-one with the entries, in any order (simple and multiple have one entry;
  parallel and parallel_multiple several). A call matches an entry when:
  the function name is the same; every required parameter is present; every given parameter is
  documented and named by the entry; every value is among the entry's allowed values; and every
  parameter of the entry that was left out allows ``""`` (optional).
* Values: a value must have the documented type, or the type of the allowed values (BFCL's
  "variable" rule, for answers that name a variable); an ``int`` is accepted for a ``float`` (JSON
  ``number``). Strings compare after BFCL's normalisation (case, spaces and ``,./-_*^`` ignored,
  ``'`` read as ``"``); lists compare item by item; a dict compares key by key against allowed values
  one level down (a key left out must allow ``""``); a list of dicts compares dict by dict, in order.

Deliberate differences, all but the last more lenient than BFCL: parallel calls are paired by a full
bipartite matching (BFCL's greedy pairing can miss a valid one); below the top level numbers compare
by value (BFCL refuses ``1`` in a list of floats, though it accepts it as a top-level float) and
strings are normalised at every depth; a bool never equals a number (Python's ``True == 1``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tooluse_envs.episode import Outcome

_PUNCTUATION = re.compile(r"[ ,./\-_*^]")
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


@dataclass(frozen=True)
class Call:
    """One call of the turn as the policy wrote it (``arguments`` None when it could not be read)."""

    name: str | None
    arguments: dict[str, Any] | None


def normalize(text: str) -> str:
    """BFCL's string normalisation, so "April 1, 2024" and "april 1 2024" compare equal."""
    return _PUNCTUATION.sub("", text).lower().replace("'", '"')


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_value(value: Any, option: Any) -> bool:
    """Equality as BFCL's checker sees it: normalised strings, numbers by value, bools only as bools."""
    if isinstance(value, str) and isinstance(option, str):
        return normalize(value) == normalize(option)
    if isinstance(value, bool) or isinstance(option, bool):
        return type(value) is type(option) and value == option
    if _is_number(value) and _is_number(option):
        return value == option
    if isinstance(value, list) and isinstance(option, list):
        return len(value) == len(option) and all(same_value(v, o) for v, o in zip(value, option, strict=True))
    if isinstance(value, dict) and isinstance(option, dict):
        return value.keys() == option.keys() and all(same_value(value[k], option[k]) for k in value)
    return type(value) is type(option) and value == option


def _types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type")
    return [declared] if isinstance(declared, str) else list(declared or [])


def _has_type(value: Any, json_type: str) -> bool:
    if isinstance(value, bool) and json_type in ("integer", "number"):
        return False
    return isinstance(value, _PYTHON_TYPES.get(json_type, (object,)))


def type_error(value: Any, schema: dict[str, Any], options: list[Any]) -> str | None:
    """Why ``value`` has neither the documented type nor that of the allowed values (None: it is fine)."""
    declared = _types(schema)
    if not declared or any(_has_type(value, t) for t in declared):
        return None
    typed = next((option for option in options if option != ""), None)
    if typed is not None and type(value) is type(typed):
        return None  # BFCL's "variable" rule: the allowed values themselves have another type
    return f"expected {'/'.join(declared)}, got {type(value).__name__}"


def _as_options(options: Any) -> list[Any]:
    return options if isinstance(options, list) else [options]


def _dict_matches(value: Any, option: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A dict against one allowed dict whose values are lists of allowed values."""
    if not isinstance(value, dict):
        return False
    properties = schema.get("properties", {})
    for key, item in value.items():
        allowed = _as_options(option.get(key))
        if key not in option or not any(_matches(item, o, properties.get(key, {})) for o in allowed):
            return False
    return all(key in value or "" in _as_options(allowed) for key, allowed in option.items())


def _matches(value: Any, option: Any, schema: dict[str, Any]) -> bool:
    types, items = _types(schema), schema.get("items", {})
    if "object" in types and isinstance(option, dict) and isinstance(value, dict):
        return _dict_matches(value, option, schema)
    if "array" in types and "object" in _types(items) and isinstance(value, list) and isinstance(option, list):
        return len(value) == len(option) and all(
            _dict_matches(v, o, items) if isinstance(o, dict) else same_value(v, o)
            for v, o in zip(value, option, strict=True)
        )
    return same_value(value, option)


def value_error(value: Any, options: list[Any], schema: dict[str, Any]) -> str | None:
    """Why ``value`` is not one of the allowed ``options`` for a parameter (None: it is)."""
    problem = type_error(value, schema, options)
    if problem is not None:
        return problem
    if any(_matches(value, option, schema) for option in options):
        return None
    return f"{value!r} is not among the allowed values {options!r}"[:300]


def call_error(call: Call, entry: dict[str, Any], parameters: dict[str, Any]) -> str | None:
    """Why ``call`` does not match one possible-answer entry ``{name: {param: allowed values}}``."""
    ((name, allowed),) = entry.items()
    if call.name != name:
        return f"function {call.name!r} is not {name!r}"
    if call.arguments is None:
        return f"the arguments of {name} could not be read"
    properties = parameters.get("properties", {})
    missing = [p for p in parameters.get("required", []) if p not in call.arguments]
    if missing:
        return f"{name}: missing required parameter {missing[0]!r}"
    for key, value in call.arguments.items():
        if key not in properties or key not in allowed:
            return f"{name}: unexpected parameter {key!r}"
        problem = value_error(value, _as_options(allowed[key]), properties[key])
        if problem is not None:
            return f"{name}: parameter {key!r}: {problem}"
    left_out = [key for key, options in allowed.items() if key not in call.arguments and "" not in options]
    if left_out:
        return f"{name}: parameter {left_out[0]!r} is needed here"
    return None


def _max_matching(fits: list[list[bool]]) -> list[int | None]:
    """For each expected entry, the index of its call in a maximum one-to-one pairing (Kuhn's algorithm)."""
    owner: dict[int, int] = {}  # call index -> entry index

    def place(entry: int, seen: set[int]) -> bool:
        for call, fit in enumerate(fits[entry]):
            if fit and call not in seen:
                seen.add(call)
                if call not in owner or place(owner[call], seen):
                    owner[call] = entry
                    return True
        return False

    for entry in range(len(fits)):
        place(entry, set())
    pairs: list[int | None] = [None] * len(fits)
    for call, entry in owner.items():
        pairs[entry] = call
    return pairs


def check_calls(
    calls: Sequence[Call], ground_truth: list[dict[str, Any]], schemas: dict[str, dict[str, Any]]
) -> Outcome:
    """Grade a turn's calls against BFCL's possible answer.

    Args:
        calls: Every call of the turn, in order (unreadable ones included, with ``name`` or
            ``arguments`` None).
        ground_truth: BFCL's possible answer: a list of ``{function: {param: allowed values}}``;
            empty for irrelevance.
        schemas: The JSON Schema of each offered function's parameters, by function name.

    Returns:
        The verdict; ``score`` is the fraction of calls paired with an entry (over the larger of the
        two counts) and ``details`` names the first problem.
    """
    if not ground_truth:
        correct = not calls
        reason = None if correct else f"{len(calls)} call(s) made, but no offered function fits the request"
        return Outcome(correct, float(correct), {"expected_calls": 0, "calls": len(calls), "reason": reason})
    errors = [[call_error(call, entry, schemas.get(_name(entry), {})) for call in calls] for entry in ground_truth]
    pairs = _max_matching([[error is None for error in row] for row in errors])
    matched = sum(pair is not None for pair in pairs)
    correct = matched == len(ground_truth) == len(calls)
    reason = None
    if len(calls) != len(ground_truth):
        reason = f"expected {len(ground_truth)} call(s), got {len(calls)}"
    elif not correct:
        entry, name = pairs.index(None), _name(ground_truth[pairs.index(None)])
        unpaired = [i for i in range(len(calls)) if i not in pairs and calls[i].name == name]
        reason = errors[entry][unpaired[0]] if unpaired else f"no call left for {name!r}"
    details = {"expected_calls": len(ground_truth), "calls": len(calls), "matched": matched, "reason": reason}
    return Outcome(correct, matched / max(len(calls), len(ground_truth)), details)


def _name(entry: dict[str, Any]) -> str:
    return next(iter(entry))
