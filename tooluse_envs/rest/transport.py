"""How requests reach the services: in-process (default), over loopback HTTP, or to a user's server.

All three are an ``httpx.Client``, so the code above them is identical and the same tests run on each:

* ``InProcessTransport``: a synchronous ASGI caller. httpx's own ``ASGITransport`` is async-only and
  Starlette's ``TestClient`` hands every request to a portal thread; this one drives the app on an event
  loop owned by the calling thread — no sockets, no thread hop, a fraction of a millisecond per call.
* ``LoopbackServer``: uvicorn on ``127.0.0.1:<free port>`` in a daemon thread; one per process and
  service set (``acquire_server``/``release_server`` count users), stopped when the last user releases
  it and at interpreter exit. The environment's server demands a per-process secret on every request
  (``TokenGate``): a loopback port is reachable by every local user and process, and without the secret
  any of them could open, read, close or evict this process's live episodes.
* any ``base_url``: a server the user runs (``python -m tooluse_envs.rest.serve``).
"""

from __future__ import annotations

import asyncio
import atexit
import hmac
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

ASGIApp = Callable[..., Any]
SERVER_START_TIMEOUT_S = 10.0
TOKEN_HEADER = "X-Tooluse-Token"


class InProcessTransport(httpx.BaseTransport):
    """Call an ASGI app directly from synchronous code (one event loop per calling thread)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = self._local.loop = asyncio.new_event_loop()
            with self._lock:
                self._loops.append(loop)
        return loop

    def _run(self, coro: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the usual case: plain synchronous caller
            self._loop().run_until_complete(coro)
            return
        with ThreadPoolExecutor(1) as pool:  # called from async code: never block its loop's thread re-entrantly
            pool.submit(asyncio.run, coro).result()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        raw_path, _, _ = request.url.raw_path.partition(b"?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": unquote(raw_path.decode("ascii")),
            "raw_path": raw_path,
            "root_path": "",
            "query_string": request.url.query,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "server": (request.url.host, request.url.port or 80),
            "client": ("127.0.0.1", 0),
        }
        received = False
        status, headers, chunks = 500, [], []

        async def receive() -> dict[str, Any]:
            nonlocal received
            if received:
                return {"type": "http.disconnect"}
            received = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], message.get("headers", [])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        self._run(self.app(scope, receive, send))
        return httpx.Response(status, headers=headers, content=b"".join(chunks), request=request)

    def close(self) -> None:
        with self._lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            if not loop.is_running():
                loop.close()


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


class TokenGate:
    """ASGI middleware: every request must carry ``token``, else 401 (none presented) or 403 (a wrong one);
    compared in constant time, and removed before the wrapped app sees the request.

    Two ways to present it: the header ``X-Tooluse-Token: <token>``, or a path prefix ``/<token>/...``
    (a capability URL: a plain client whose base URL is ``http://127.0.0.1:<port>/<token>`` sends it on
    every request by itself). Not ``Authorization``: the services use that header for their own tokens.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token or "/" in token:
            raise ValueError("the server token must be a non-empty string without '/'")
        self.app = app
        self._token = token.encode()

    def _matches(self, presented: str) -> bool:
        return hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), self._token)

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header_name = TOKEN_HEADER.lower().encode()
        presented = _header(scope, header_name)
        path: str = scope.get("path", "")
        first, _, rest = path.lstrip("/").partition("/")
        if presented is not None:
            allowed = self._matches(presented)
            inner = scope
        else:
            allowed = bool(first) and self._matches(first)
            presented = first if allowed else None
            inner = {**scope, "path": "/" + rest}
            raw_path = scope.get("raw_path")
            if allowed and isinstance(raw_path, bytes):
                inner["raw_path"] = b"/" + raw_path.lstrip(b"/").partition(b"/")[2]
        if allowed:
            inner = {**inner, "headers": [(k, v) for k, v in scope.get("headers", []) if k.lower() != header_name]}
            await self.app(inner, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        status = 401 if presented is None else 403
        detail = (
            f"this server answers only the process that started it: send its token in the {TOKEN_HEADER} header"
            if status == 401
            else "wrong token"
        )
        body = json.dumps({"error": "unauthorized" if status == 401 else "forbidden", "detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", f'Token realm="tooluse", header="{TOKEN_HEADER}"'.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


class LoopbackServer:
    """uvicorn serving one app on a free loopback port, in a daemon thread.

    Args:
        app: the ASGI app.
        token: when given, every request must present it (see :class:`TokenGate`); then :attr:`url` is
            the capability URL ``http://127.0.0.1:<port>/<token>`` (any client built on it presents the
            token by itself), :attr:`origin` the bare address and :attr:`headers` the token header to send
            to it. Without one the server answers anyone who can reach the port (for apps that hold no
            per-process state, as in tests).
    """

    def __init__(self, app: ASGIApp, *, token: str | None = None) -> None:
        import uvicorn  # only when a server is really wanted

        self.token = token
        if token is not None:
            app = TokenGate(app, token)

        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only then (else ~40 ms per
        # response from Nagle + delayed ACK).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=60)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=f"rest-server-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the REST server on 127.0.0.1:{self.port} did not start")
            time.sleep(0.005)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``, without credentials."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The base URL for clients: :attr:`origin`, followed by ``/<token>`` when the server has one."""
        if self.token is None:
            return self.origin
        return f"{self.origin}/{self.token}"

    @property
    def headers(self) -> dict[str, str]:
        """Headers that authenticate a request to this server (empty when it has no token)."""
        return {} if self.token is None else {TOKEN_HEADER: self.token}

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()


@dataclass
class _Lease:
    server: LoopbackServer
    users: int = 0


_servers: dict[tuple[str, ...], _Lease] = {}  # one server per service set
_servers_lock = threading.Lock()


def acquire_server(key: tuple[str, ...], make_app: Callable[[], ASGIApp]) -> LoopbackServer:
    """The process's server for this service set, started on first use; pair with ``release_server``.

    The server demands a fresh random secret (``secrets.token_urlsafe(32)``) that only this process
    holds, so its episodes are reachable only by this process's clients: build them on ``server.url``
    (the token is its first path segment) or on ``server.origin`` with ``server.headers``.
    """
    with _servers_lock:
        lease = _servers.get(key)
        if lease is None or not lease.server.running:
            lease = _servers[key] = _Lease(LoopbackServer(make_app(), token=secrets.token_urlsafe(32)))
        lease.users += 1
        return lease.server


def release_server(key: tuple[str, ...]) -> None:
    """Drop one user of the service set's server; the last one out stops it."""
    with _servers_lock:
        lease = _servers.get(key)
        if lease is None:
            return
        lease.users -= 1
        if lease.users > 0:
            return
        del _servers[key]
    lease.server.stop()


def running_servers() -> dict[tuple[str, ...], tuple[LoopbackServer, int]]:
    """The loopback servers this process runs now, with their number of users (for tests and debugging)."""
    with _servers_lock:
        return {key: (lease.server, lease.users) for key, lease in _servers.items()}


@atexit.register
def _stop_all_servers() -> None:
    with _servers_lock:
        leases = list(_servers.values())
        _servers.clear()
    for lease in leases:
        lease.server.stop()
