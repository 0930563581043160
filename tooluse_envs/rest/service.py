"""A mock service: an OpenAPI document (data), one handler per operationId, seeded tables, episode state.

``build_app`` turns a ``Service`` into a Starlette ASGI app whose routes come from the document itself,
so the document cannot drift from what the server does: every request is validated against the
operation's parameter and body schemas (422 with a JSON body on failure), bearer-secured operations
check the token (401), and a per-episode request quota answers 429 with ``Retry-After``. Handlers stay
small pure functions of a ``Call``; they never see invalid input.

Per-episode state: each episode id (``X-Episode-Id`` header) gets its own copy of the seeded tables,
made lazily on its first request, so concurrent episodes on one server never see each other's writes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tooluse_envs.rest.openapi import HTTP_METHODS, is_bearer_secured, resolve_refs

EPISODE_HEADER = "x-episode-id"
DEFAULT_EPISODE = "default"
MAX_EPISODES = 4096

Tables = dict[str, dict[str, dict[str, Any]]]


class ApiError(Exception):
    """An HTTP error a handler returns: status, a machine-readable code, a human-readable detail."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(f"{status} {error}: {detail}")
        self.status, self.headers = status, headers or {}
        self.body = {"error": error, "detail": detail, **extra}


@dataclass
class Reply:
    """A handler's answer when it is not a plain 200 with a JSON body."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Episode:
    """One episode's copy of a service's data, its request count and its issued tokens."""

    tables: Tables
    counters: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    tokens: dict[str, str] = field(default_factory=dict)

    def next_id(self, key: str, start: int) -> int:
        """Deterministic ids for created rows: ``start``, ``start + 1``, ... per key and episode."""
        value = self.counters.get(key, start)
        self.counters[key] = value + 1
        return value


@dataclass
class Call:
    """What a handler receives: the episode, validated path/query parameters and body, the token's user."""

    episode: Episode
    params: dict[str, Any]
    body: Any = None
    user: str | None = None

    @property
    def tables(self) -> Tables:
        return self.episode.tables


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Service:
    """A mock REST service.

    Attributes:
        name: Mount name (``/<name>``) and the service name in tasks.
        spec: The OpenAPI 3.1 document; routes, validation and tools are all derived from it.
        handlers: One function per operationId.
        seed: Builds the deterministic seed tables (called once, cached by the service module).
        rate_limit: Requests allowed per episode before 429 (None: unlimited).
        retry_after_s: The ``Retry-After`` value sent with 429.
    """

    name: str
    spec: dict[str, Any]
    handlers: dict[str, Handler]
    seed: Callable[[], Tables]
    rate_limit: int | None = None
    retry_after_s: int = 60

    def fresh_episode(self) -> Episode:
        """A private copy of the seed tables (rows are copied; nested values are never mutated in place)."""
        return Episode({name: {k: dict(row) for k, row in rows.items()} for name, rows in self.seed().items()})


def snapshot(episode: Episode) -> dict[str, list[dict[str, Any]]]:
    """The JSON view state checks read: every table as a list of rows."""
    return {name: list(rows.values()) for name, rows in episode.tables.items()}


class EpisodeStore:
    """Per-episode states of one service; an episode's state is created on its first request."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._episodes: dict[str, Episode | None] = {DEFAULT_EPISODE: None}
        self._lock = threading.Lock()

    def open(self, episode_id: str) -> None:
        with self._lock:
            while len(self._episodes) >= MAX_EPISODES:  # forgotten episodes must not grow without bound
                oldest = next(k for k in self._episodes if k != DEFAULT_EPISODE)
                del self._episodes[oldest]
            self._episodes[episode_id] = None

    def close(self, episode_id: str) -> None:
        with self._lock:
            if episode_id != DEFAULT_EPISODE:
                self._episodes.pop(episode_id, None)

    def get(self, episode_id: str) -> Episode:
        with self._lock:
            if episode_id not in self._episodes:
                raise ApiError(400, "unknown_episode", f"episode {episode_id!r} is not open; POST /_episodes first")
            episode = self._episodes[episode_id]
            if episode is None:
                episode = self._episodes[episode_id] = self.service.fresh_episode()
            return episode


def _coerce(raw: str | list[str], schema: dict[str, Any]) -> Any:
    """Query and path values arrive as text; read them as the schema's type (ValueError when they do not fit)."""
    kind = schema.get("type")
    if kind == "array":
        items = raw if isinstance(raw, list) else [raw]
        return [_coerce(item, schema.get("items", {})) for item in items]
    if isinstance(raw, list):
        raw = raw[-1]
    if kind == "integer":
        return int(raw)
    if kind == "number":
        return float(raw)
    if kind == "boolean":
        if raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{raw!r} is not a boolean")
        return raw.lower() in ("true", "1")
    return raw


class OperationRunner:
    """Validates one operation's requests against the document and runs its handler."""

    def __init__(self, service: Service, path: str, method: str) -> None:
        spec = service.spec
        raw = spec["paths"][path][method]
        self.name = raw["operationId"]
        if self.name not in service.handlers:
            raise KeyError(f"{service.name}: no handler for operationId {self.name!r}")
        self.handler = service.handlers[self.name]
        params = [resolve_refs(p, spec) for p in spec["paths"][path].get("parameters", []) + raw.get("parameters", [])]
        self.params = [
            (p["name"], p["in"], p.get("schema", {}), bool(p.get("required") or p["in"] == "path")) for p in params
        ]
        self.validators = {p["name"]: Draft202012Validator(p.get("schema", {})) for p in params}
        body = resolve_refs(raw.get("requestBody"), spec)
        self.body_required = bool(body and body.get("required"))
        schema = body["content"]["application/json"].get("schema", {}) if body else None
        self.body_validator = Draft202012Validator(schema) if schema is not None else None
        self.secured = is_bearer_secured(raw, spec)

    def parse_params(self, request: Request) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, location, schema, required in self.params:
            if location == "path":
                raw: Any = request.path_params.get(name)
            else:
                values = request.query_params.getlist(name)
                raw = values if schema.get("type") == "array" else (values[-1] if values else None)
            if raw is None or raw == []:
                if required:
                    raise ApiError(422, "validation_error", f"{location} parameter {name!r} is required")
                continue
            try:
                value = _coerce(raw, schema)
            except ValueError:
                raise ApiError(
                    422,
                    "validation_error",
                    f"{location} parameter {name!r}: cannot read {raw!r} as {schema.get('type')}",
                ) from None
            error = next(iter(self.validators[name].iter_errors(value)), None)
            if error is not None:
                raise ApiError(422, "validation_error", f"{location} parameter {name!r}: {error.message}")
            out[name] = value
        return out

    def parse_body(self, raw: bytes) -> Any:
        if self.body_validator is None:
            return None
        if not raw.strip():
            if self.body_required:
                raise ApiError(422, "validation_error", "a JSON request body is required")
            return None
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(422, "validation_error", f"request body is not valid JSON ({exc})") from None
        error = next(iter(self.body_validator.iter_errors(body)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            raise ApiError(422, "validation_error", f"body{'/' + where if where else ''}: {error.message}")
        return body

    def authorize(self, request: Request, episode: Episode) -> str | None:
        if not self.secured:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in episode.tokens:
            raise ApiError(
                401,
                "unauthorized",
                "missing or invalid bearer token; log in with the service's token operation first",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return episode.tokens[token]


def json_reply(reply: Reply) -> Response:
    if reply.status == 204 or reply.body is None:
        return Response(status_code=reply.status, headers=reply.headers)
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


def _endpoint(service: Service, store: EpisodeStore, runner: OperationRunner) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            episode = store.get(request.headers.get(EPISODE_HEADER, DEFAULT_EPISODE))
            episode.requests += 1
            if service.rate_limit is not None and episode.requests > service.rate_limit:
                raise ApiError(
                    429,
                    "rate_limited",
                    f"quota of {service.rate_limit} requests per episode exceeded",
                    headers={"Retry-After": str(service.retry_after_s)},
                    retry_after=service.retry_after_s,
                )
            user = runner.authorize(request, episode)
            params = runner.parse_params(request)
            body = runner.parse_body(await request.body())
            result = runner.handler(Call(episode, params, body, user))
            reply = result if isinstance(result, Reply) else Reply(200, result)
        except ApiError as exc:
            reply = Reply(exc.status, exc.body, exc.headers)
        except Exception as exc:  # a handler bug must still answer in JSON, as a real API would
            reply = Reply(500, {"error": "internal_error", "detail": f"{type(exc).__name__}: {exc}"})
        return json_reply(reply)

    endpoint.__name__ = runner.name
    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    return JSONResponse({"error": "http_error", "detail": detail}, status_code=status)


def build_app(service: Service) -> Starlette:
    """The service as an ASGI app: routes from the document, the document itself at ``/openapi.json``."""
    store = EpisodeStore(service)
    routes = []
    for path, item in service.spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                runner = OperationRunner(service, path, method)
                routes.append(Route(path, _endpoint(service, store, runner), methods=[method.upper()]))
    spec = service.spec

    async def openapi(request: Request) -> Response:
        return JSONResponse(spec)

    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.store = store
    app.state.service = service
    return app
