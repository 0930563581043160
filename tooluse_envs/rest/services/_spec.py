"""Small builders for OpenAPI fragments, so each service's document reads as data without repetition."""

from __future__ import annotations

from typing import Any

DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "A date, YYYY-MM-DD."}
TIME = {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "description": "A time of day, HH:MM (24 h)."}
ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["error", "detail"],
}
BEARER = {"bearer": {"type": "http", "scheme": "bearer"}}


def param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    """A path or query parameter."""
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
    }


def _limit(default: int, maximum: int) -> dict[str, Any]:
    return param(
        "limit",
        "query",
        {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        f"Page size (default {default}, at most {maximum}).",
    )


def page_params(default: int, maximum: int) -> list[dict[str, Any]]:
    """limit/offset pagination parameters."""
    offset = param(
        "offset",
        "query",
        {"type": "integer", "minimum": 0, "default": 0},
        "How many results to skip (use next_offset from the previous page).",
    )
    return [_limit(default, maximum), offset]


def cursor_params(default: int, maximum: int) -> list[dict[str, Any]]:
    """limit/cursor pagination parameters."""
    cursor = param("cursor", "query", {"type": "string"}, "next_cursor of the previous page.")
    return [_limit(default, maximum), cursor]


def body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    """A JSON request body."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A closed object schema."""
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": False}


def responses(ok: int = 200, schema: dict[str, Any] | None = None, *errors: int) -> dict[str, Any]:
    """The success response and the error statuses an operation may answer with."""
    out: dict[str, Any] = {str(ok): {"description": "Success."}}
    if schema is not None:
        out[str(ok)]["content"] = {"application/json": {"schema": schema}}
    for status in (*errors, 422):
        out[str(status)] = {
            "description": "Error.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return out


def document(
    title: str, description: str, paths: dict[str, Any], schemas: dict[str, Any] | None = None, bearer: bool = False
) -> dict[str, Any]:
    """An OpenAPI 3.1 document with the shared Error schema."""
    components: dict[str, Any] = {"schemas": {"Error": ERROR, **(schemas or {})}}
    if bearer:
        components["securitySchemes"] = BEARER
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0", "description": description},
        "paths": paths,
        "components": components,
    }
