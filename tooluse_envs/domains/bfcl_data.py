"""BFCL's single-turn categories, read from the installed ``bfcl-eval`` package and turned into Tasks.

The data is Apache-2.0 but is not copied into this repository: it is read at run time from the
``data/`` folder of ``bfcl-eval`` (the ten files needed weigh 8.2 MB). Its own dependencies are only
needed to run BFCL's harness, not to read its files, so it is installed without them:
``python scripts/data_wheel.py bfcl-eval==2026.3.23`` (what ``make`` runs) installs a copy that declares
none, which keeps ``pip check`` clean; ``pip install --no-deps bfcl-eval`` also works but leaves them
declared and missing. The package is located without being imported, so its heavy imports never run.

Three conversions happen here:

* BFCL's function docs use Python-flavoured types (``dict``, ``float``, ``tuple``, ``any``); they become
  JSON Schema (``object``, ``number``, ``array``, no constraint) so the env can validate calls and any
  chat template can render them. A parameter whose documented default is ``None`` also accepts ``null``
  (BFCL's possible answers pass ``None`` for it).
* A question is a list of chat messages; the env asks one user question, so a system message or an
  earlier exchange is written into the question text.
* The reference (the teacher's trajectory) is the first possible answer: for each parameter the first
  allowed value that passes the JSON Schema, left out where ``""`` (optional) comes first.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from tooluse_envs.errors import TaskError
from tooluse_envs.tasks import Reference, ReferenceCall

INSTALL_HINT = (
    "the BFCL domain reads its tasks from the bfcl-eval package, which is not installed; "
    "run `python scripts/data_wheel.py bfcl-eval==2026.3.23` from a tooluse-mentor checkout "
    "(or `pip install --no-deps bfcl-eval==2026.3.23`, which leaves `pip check` complaining)"
)

# Our category name -> BFCL's file stem (BFCL_v4_<stem>.json). Irrelevance has no possible answers.
CATEGORIES: dict[str, str] = {
    "simple": "simple_python",
    "multiple": "multiple",
    "parallel": "parallel",
    "parallel_multiple": "parallel_multiple",
    "irrelevance": "irrelevance",
    "live_simple": "live_simple",
    "live_multiple": "live_multiple",
    "live_parallel": "live_parallel",
    "live_parallel_multiple": "live_parallel_multiple",
    "live_irrelevance": "live_irrelevance",
}
IRRELEVANCE = frozenset({"irrelevance", "live_irrelevance"})

# BFCL type names (Python flavour) -> JSON Schema type; None means "any value" (no constraint).
_JSON_TYPES: dict[str, str | None] = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "dict": "object",
    "object": "object",
    "any": None,
}
_ANNOTATIONS = ("description", "enum", "default", "minimum", "maximum")
_OMIT = object()  # an optional parameter the reference leaves out


def data_dir() -> Path:
    """The ``data/`` folder of the installed bfcl-eval, found without importing the package."""
    spec = importlib.util.find_spec("bfcl_eval")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise TaskError(INSTALL_HINT)
    path = Path(locations[0]) / "data"
    if not (path / f"BFCL_v4_{CATEGORIES['simple']}.json").is_file():
        raise TaskError(f"{path} lacks BFCL's v4 data files; {INSTALL_HINT}")
    return path


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def to_json_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """One BFCL parameter spec as JSON Schema (recursively through ``items`` and ``properties``)."""
    out: dict[str, Any] = {}
    json_type = _JSON_TYPES.get(str(spec.get("type", "string")), "string")
    nullable = "default" in spec and spec["default"] is None
    if json_type is not None:
        out["type"] = [json_type, "null"] if nullable else json_type
    for key in _ANNOTATIONS:
        if key in spec:
            out[key] = spec[key]
    if nullable and "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    if json_type == "array" and isinstance(spec.get("items"), dict):
        out["items"] = to_json_schema(spec["items"])
    if json_type == "array" and "enum" in out:  # BFCL puts the allowed *item* values on the array
        out.setdefault("items", {}).setdefault("enum", out.pop("enum"))
    if json_type == "object" and isinstance(spec.get("properties"), dict):
        properties = {name: to_json_schema(sub) for name, sub in spec["properties"].items()}
        out["properties"] = properties
        out["required"] = [name for name in spec.get("required", []) if name in properties]
        out["additionalProperties"] = False
    return out


def function_schema(function: dict[str, Any]) -> dict[str, Any]:
    """A BFCL function doc as an OpenAI-style function (name, description, JSON Schema parameters)."""
    parameters = to_json_schema({**function.get("parameters", {}), "type": "dict"})
    parameters.setdefault("properties", {})
    parameters.setdefault("required", [])
    parameters["additionalProperties"] = False
    return {"name": function["name"], "description": function.get("description", ""), "parameters": parameters}


def render_question(messages: list[dict[str, Any]]) -> str:
    """The chat messages of one BFCL turn as the single user question the env asks.

    System messages come first as they are; earlier user/assistant messages are quoted as a transcript
    so the last user message keeps its context.
    """
    system = [str(m.get("content") or "") for m in messages if m.get("role") == "system"]
    dialogue = [m for m in messages if m.get("role") != "system"]
    parts = list(system)
    if len(dialogue) > 1:
        lines = [f"{m.get('role', 'user').capitalize()}: {str(m.get('content') or '').strip()}" for m in dialogue[:-1]]
        parts.append("Earlier in this conversation:\n" + "\n".join(lines))
    if dialogue:
        parts.append(str(dialogue[-1].get("content") or ""))
    return "\n\n".join(part.strip() for part in parts if part.strip()) or "(empty request)"


def _expand(option: Any, schema: dict[str, Any]) -> Any:
    """A concrete value from one possible-answer option (dicts hold option lists one level down)."""
    if isinstance(option, dict) and _declares(schema, "object"):
        properties = schema.get("properties", {})
        out = {}
        for key, options in option.items():
            options = options if isinstance(options, list) else [options]
            value = _pick(options, properties.get(key, {}), key in schema.get("required", []))
            if value is not _OMIT:
                out[key] = value
        return out
    if isinstance(option, list) and _declares(schema, "array") and _declares(schema.get("items", {}), "object"):
        return [_expand(item, schema["items"]) for item in option]
    return option


def _declares(schema: dict[str, Any], json_type: str) -> bool:
    declared = schema.get("type")
    return declared == json_type or (isinstance(declared, list) and json_type in declared)


def _pick(options: list[Any], schema: dict[str, Any], required: bool) -> Any:
    """The first option that passes the schema; ``""`` (optional) first leaves the parameter out.

    When no option passes (BFCL's answers sometimes name a variable, use another type than the doc or
    a value outside its enum), the first option is kept: the checker follows BFCL and accepts it.
    """
    validator = Draft202012Validator(schema)
    for option in options:
        if option == "":
            if not required:
                return _OMIT
            continue
        value = _expand(option, schema)
        if validator.is_valid(value):
            return value
    concrete = [option for option in options if option != ""]
    return _expand(concrete[0], schema) if concrete else ""


def reference_calls(ground_truth: list[dict[str, Any]], schemas: dict[str, dict[str, Any]]) -> Reference:
    """The teacher's trajectory: one call per possible-answer entry, all in a single turn.

    ``schemas`` maps each function name to the JSON Schema of its parameters.
    """
    calls = []
    for entry in ground_truth:
        ((name, params),) = entry.items()
        parameters = schemas.get(name, {})
        properties, required = parameters.get("properties", {}), parameters.get("required", [])
        arguments = {}
        for key, options in params.items():
            if key not in properties and "" in options:
                continue  # BFCL lists an undocumented parameter as optional: leave it out
            value = _pick(options, properties.get(key, {}), key in required)
            if value is not _OMIT:
                arguments[key] = value
        calls.append(ReferenceCall(name, arguments))
    return Reference(tuple(calls), None, (len(calls),) if calls else ())


def read_category(category: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The raw entries of one category with their ground truth ([] for irrelevance)."""
    root, stem = data_dir(), CATEGORIES[category]
    entries = list(read_jsonl(root / f"BFCL_v4_{stem}.json"))
    if category in IRRELEVANCE:
        return [(entry, []) for entry in entries]
    answers = {row["id"]: row["ground_truth"] for row in read_jsonl(root / "possible_answer" / f"BFCL_v4_{stem}.json")}
    missing = [entry["id"] for entry in entries if entry["id"] not in answers]
    if missing:
        raise TaskError(f"BFCL {category}: no possible answer for {missing[:3]}")
    return [(entry, answers[entry["id"]]) for entry in entries]
