"""OpenAPI 3 operations as tools, and tool calls as HTTP requests — generically, for any service.

Every operation (one ``operationId``) becomes one tool. Its JSON Schema is built from the path and query
parameters and the properties of the JSON request body, flattened into one arguments object because
models call flat functions far more reliably than nested ``{"query": ..., "body": ...}`` shapes. A body
whose property names clash with a parameter, or that is not an object, is passed whole as ``body``.
Operations secured with a bearer scheme take an ``access_token`` argument: the model carries the token
from the service's token operation to later calls itself, which is the skill the auth tasks train.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tooluse_envs.errors import ToolDefinitionError
from tooluse_envs.tools import Tool

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
TOKEN_ARGUMENT = "access_token"
BODY_ARGUMENT = "body"


@dataclass(frozen=True)
class Operation:
    """One OpenAPI operation, with what the executor needs to turn arguments into a request.

    Attributes:
        name: The operationId, which is also the tool name.
        service: The service the operation belongs to.
        method: Upper-case HTTP method.
        path: The path template including the service's mount prefix, e.g. ``/shop/orders/{order_id}``.
        description: Summary and description from the document.
        path_params: Arguments substituted into the path.
        query_params: Arguments sent in the query string.
        body_fields: Arguments sent as properties of the JSON body (flattened body).
        body_whole: True when the body is passed as one ``body`` argument.
        secured: True when the operation needs a bearer token (``access_token`` argument).
        parameters: The tool's JSON Schema.
    """

    name: str
    service: str
    method: str
    path: str
    description: str
    path_params: tuple[str, ...] = ()
    query_params: tuple[str, ...] = ()
    body_fields: tuple[str, ...] = ()
    body_whole: bool = False
    secured: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)

    def tool(self) -> Tool:
        """The tool a policy calls; its implementation is the session's HTTP executor (``fn=None``)."""
        return Tool(self.name, self.description, self.parameters)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.parameters.get("required", ()))


@dataclass(frozen=True)
class HttpRequest:
    """A tool call translated to HTTP."""

    method: str
    path: str
    params: dict[str, Any]
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def resolve_refs(schema: Any, spec: dict[str, Any], depth: int = 0) -> Any:
    """Inline local ``$ref``s (``#/components/...``) so each tool schema stands alone."""
    if depth > 32:
        raise ToolDefinitionError("$ref nesting deeper than 32 levels (recursive schema?)")
    if isinstance(schema, list):
        return [resolve_refs(item, spec, depth + 1) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise ToolDefinitionError(f"only local $refs are supported, got {ref!r}")
        target: Any = spec
        for part in ref[2:].split("/"):
            if not isinstance(target, dict) or part not in target:
                raise ToolDefinitionError(f"unresolvable $ref {ref!r}")
            target = target[part]
        return resolve_refs(target, spec, depth + 1)
    return {key: resolve_refs(value, spec, depth + 1) for key, value in schema.items()}


def is_bearer_secured(operation: dict[str, Any], spec: dict[str, Any]) -> bool:
    """Whether the operation (or, by default, the document) requires an HTTP bearer token."""
    requirements = operation.get("security", spec.get("security", []))
    schemes = spec.get("components", {}).get("securitySchemes", {})
    for requirement in requirements:
        for name in requirement:
            scheme = schemes.get(name, {})
            if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer":
                return True
    return False


def _body_schema(operation: dict[str, Any], spec: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    body = resolve_refs(operation.get("requestBody"), spec)
    if not body:
        return None, False
    content = body.get("content", {})
    if "application/json" not in content:
        raise ToolDefinitionError(f"{operation.get('operationId')}: only application/json bodies are supported")
    return content["application/json"].get("schema", {}), bool(body.get("required"))


def _describe(operation: dict[str, Any]) -> str:
    parts = [operation.get("summary", "").strip(), operation.get("description", "").strip()]
    text = " ".join(part for part in parts if part)
    return text or f"Calls {operation['operationId']}."


def build_operation(service: str, prefix: str, path: str, method: str, spec: dict[str, Any]) -> Operation:
    """Build one operation's tool schema and request mapping from the OpenAPI document."""
    raw = spec["paths"][path][method]
    name = raw.get("operationId")
    if not name:
        raise ToolDefinitionError(f"{service}: {method.upper()} {path} has no operationId")
    shared = spec["paths"][path].get("parameters", [])
    properties: dict[str, Any] = {}
    required: list[str] = []
    where: dict[str, list[str]] = {"path": [], "query": []}
    for param in (resolve_refs(p, spec) for p in shared + raw.get("parameters", [])):
        location = param.get("in")
        if location not in where:
            raise ToolDefinitionError(f"{name}: parameters in {location!r} are not supported")
        prop = copy.deepcopy(param.get("schema", {}))
        if param.get("description"):
            prop["description"] = param["description"]
        properties[param["name"]] = prop
        where[location].append(param["name"])
        if param.get("required") or location == "path":
            required.append(param["name"])
    body, body_required = _body_schema(raw, spec)
    body_fields: tuple[str, ...] = ()
    body_whole = False
    if body is not None:
        body_props = body.get("properties") if body.get("type") == "object" else None
        if body_props and not set(body_props) & (set(properties) | {TOKEN_ARGUMENT}):
            properties.update(copy.deepcopy(body_props))
            body_fields = tuple(body_props)
            if body_required:
                required += [p for p in body.get("required", []) if p in body_props]
        else:
            properties[BODY_ARGUMENT] = body
            body_whole = True
            if body_required:
                required.append(BODY_ARGUMENT)
    secured = is_bearer_secured(raw, spec)
    if secured:
        properties[TOKEN_ARGUMENT] = {
            "type": "string",
            "description": "Bearer access token returned by this service's token operation.",
        }
        required.insert(0, TOKEN_ARGUMENT)
    parameters = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return Operation(
        name=name,
        service=service,
        method=method.upper(),
        path=prefix + path,
        description=_describe(raw),
        path_params=tuple(where["path"]),
        query_params=tuple(where["query"]),
        body_fields=body_fields,
        body_whole=body_whole,
        secured=secured,
        parameters=parameters,
    )


def spec_operations(service: str, spec: dict[str, Any], prefix: str = "") -> list[Operation]:
    """Every operation of an OpenAPI document, in document order (paths, then methods)."""
    if not str(spec.get("openapi", "")).startswith("3."):
        raise ToolDefinitionError(f"{service}: not an OpenAPI 3 document")
    operations = []
    for path, item in spec.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                operations.append(build_operation(service, prefix, path, method, spec))
    names = [op.name for op in operations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ToolDefinitionError(f"{service}: duplicate operationIds {duplicates}")
    return operations


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_query_value(item) for item in value]
    return value


def build_request(operation: Operation, arguments: dict[str, Any]) -> HttpRequest:
    """Map validated tool arguments to method, path (parameters substituted), query, JSON body, headers."""
    path = operation.path
    for name in operation.path_params:
        path = path.replace("{" + name + "}", quote(str(arguments[name]), safe=""))
    params = {k: _query_value(arguments[k]) for k in operation.query_params if arguments.get(k) is not None}
    body: Any = None
    if operation.body_whole:
        body = arguments.get(BODY_ARGUMENT)
    elif operation.body_fields:
        body = {k: arguments[k] for k in operation.body_fields if k in arguments}
    headers = {}
    if operation.secured and TOKEN_ARGUMENT in arguments:
        headers["authorization"] = f"Bearer {arguments[TOKEN_ARGUMENT]}"
    return HttpRequest(operation.method, path, params, body, headers)
