"""All services in one ASGI app, plus the episode endpoints the environment uses.

One app (and so one port when served over HTTP) holds a whole service set: each service is mounted at
``/<name>``. Episodes are opened and closed here for every mounted service at once, and the final
state a state check reads comes from here too, so the environment needs nothing but HTTP to run, even
against a server a user started elsewhere (``python -m tooluse_envs.rest.serve``).

    POST   /_episodes                       -> 201 {"episode_id": ...}
    DELETE /_episodes/{episode_id}          -> 204
    GET    /_episodes/{episode_id}/state?service=shop  -> {"shop": {"orders": [...], ...}}
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from tooluse_envs.rest.service import ApiError, EpisodeStore, Service, build_app, snapshot


def build_hub(services: Sequence[Service]) -> Starlette:
    """Mount every service under ``/<name>`` and add the episode endpoints."""
    stores: dict[str, EpisodeStore] = {}
    routes: list[BaseRoute] = []
    for service in services:
        if service.name in stores or service.name.startswith("_"):
            raise ValueError(f"service name {service.name!r} is repeated or reserved")
        app = build_app(service)
        stores[service.name] = app.state.store
        routes.append(Mount(f"/{service.name}", app=app))

    async def open_episode(request: Request) -> Response:
        episode_id = uuid.uuid4().hex
        for store in stores.values():
            store.open(episode_id)
        return JSONResponse({"episode_id": episode_id}, status_code=201)

    async def close_episode(request: Request) -> Response:
        for store in stores.values():
            store.close(request.path_params["episode_id"])
        return Response(status_code=204)

    async def episode_state(request: Request) -> Response:
        names = request.query_params.getlist("service") or list(stores)
        unknown = [name for name in names if name not in stores]
        if unknown:
            return JSONResponse({"error": "not_found", "detail": f"no services {unknown}"}, status_code=404)
        try:
            state = {name: snapshot(stores[name].get(request.path_params["episode_id"])) for name in names}
        except ApiError as exc:
            return JSONResponse(exc.body, status_code=exc.status)
        return JSONResponse(state)

    async def index(request: Request) -> Response:
        return JSONResponse({"services": {name: f"/{name}/openapi.json" for name in stores}})

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/_episodes", open_episode, methods=["POST"]),
        Route("/_episodes/{episode_id}", close_episode, methods=["DELETE"]),
        Route("/_episodes/{episode_id}/state", episode_state, methods=["GET"]),
        *routes,
    ]
    app = Starlette(routes=routes)
    app.state.stores = stores
    return app
