"""Tools: a name, a JSON Schema for the arguments (OpenAI function format) and the code that runs.

A tool is declared once. Its schema is what the policy sees (``info["tools"]``) and what every call is
validated against with ``jsonschema`` before the code runs, so a tool's implementation never sees
arguments its schema rejects. Typed Python functions with Google-style docstrings become tools through
``function_tool`` (the same idea as ``transformers.utils.get_json_schema``).
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from tooluse_envs.errors import ToolDefinitionError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Tool:
    """A callable tool with its JSON Schema.

    Attributes:
        name: The function name the policy calls.
        description: What the tool does, shown to the policy.
        parameters: JSON Schema of the arguments object.
        fn: The implementation, called with the validated arguments as keyword arguments. ``None`` for
            tools that a session implements itself (for example, tools bound to per-episode state).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any] | None = None
    _validator: Draft202012Validator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ToolDefinitionError(f"invalid tool name {self.name!r}")
        if self.parameters.get("type") != "object":
            raise ToolDefinitionError(f"tool {self.name}: parameters must be a JSON Schema of type object")
        try:
            Draft202012Validator.check_schema(self.parameters)
        except SchemaError as exc:
            raise ToolDefinitionError(f"tool {self.name}: invalid JSON Schema: {exc.message}") from exc
        self._validator = Draft202012Validator(self.parameters)

    @property
    def schema(self) -> dict[str, Any]:
        """The OpenAI function-calling schema, as chat templates take it in ``tools=``."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def validation_error(self, arguments: dict[str, Any]) -> str | None:
        """A one-line description of why ``arguments`` violate the schema, or None when they are valid."""
        error = next(iter(self._validator.iter_errors(arguments)), None)
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path)
        return f"{where}: {error.message}" if where else error.message

    def __call__(self, **arguments: Any) -> Any:
        if self.fn is None:
            raise ToolDefinitionError(f"tool {self.name} has no implementation of its own")
        return self.fn(**arguments)


_JSON_TYPES: dict[Any, str] = {int: "integer", float: "number", str: "string", bool: "boolean"}


def _json_type(annotation: Any) -> dict[str, Any]:
    """JSON Schema for a Python type annotation (the subset tools need)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [_json_type(a) for a in typing.get_args(annotation) if a is not type(None)]
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(annotation))}
    if origin in (list, tuple, set) or annotation in (list, tuple, set):
        args = typing.get_args(annotation)
        return {"type": "array", "items": _json_type(args[0])} if args else {"type": "array"}
    if origin is dict or annotation is dict:
        return {"type": "object"}
    if annotation is float:
        return {"type": "number"}
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    if annotation is Any or annotation is inspect.Parameter.empty:
        return {}
    raise ToolDefinitionError(f"cannot express type {annotation!r} as JSON Schema")


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into the summary and the per-argument descriptions."""
    summary_lines, arg_docs, section, current = [], {}, "summary", None
    for raw in inspect.cleandoc(doc).splitlines():
        line = raw.strip()
        if re.fullmatch(r"(Args|Arguments|Parameters):", line):
            section = "args"
            continue
        if re.fullmatch(r"[A-Z][a-z]+( [A-Z]?[a-z]+)*:", line):
            section = "other"
            continue
        if section == "summary" and line:
            summary_lines.append(line)
        elif section == "args" and line:
            match = re.match(r"^(\w+)(?: \([^)]*\))?:\s*(.*)$", line)
            if match and raw.startswith(" " * 4) and not raw.startswith(" " * 8):
                current = match.group(1)
                arg_docs[current] = match.group(2)
            elif current:
                arg_docs[current] += " " + line
    return " ".join(summary_lines), arg_docs


def function_tool(fn: Callable[..., Any], name: str | None = None) -> Tool:
    """Make a Tool from a typed Python function with a Google-style docstring.

    Every parameter needs a type annotation; parameters without a default are required.
    """
    doc = inspect.getdoc(fn)
    if not doc:
        raise ToolDefinitionError(f"{fn.__name__}: a tool function needs a docstring describing it")
    summary, arg_docs = _docstring_parts(doc)
    hints = typing.get_type_hints(fn)
    properties, required = {}, []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(f"{fn.__name__}: *args/**kwargs cannot be described as a tool")
        if param.name not in hints:
            raise ToolDefinitionError(f"{fn.__name__}: parameter {param.name!r} needs a type annotation")
        prop = _json_type(hints[param.name])
        if param.name in arg_docs:
            prop["description"] = arg_docs[param.name]
        properties[param.name] = prop
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    parameters = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return Tool(name or fn.__name__, summary, parameters, fn)
