"""The docker backend's engine calls through the docker SDK (``DockerConfig(client="sdk")``).

Containers are created, listed, stopped and removed through the Engine API with the ``docker`` package
(the ``[docker]`` extra) instead of one ``docker`` CLI process per call. The worker's stdin/stdout are
attached through the API too, by a small stdlib-only relay (:data:`RELAY_SOURCE`) that plays the part
``docker start --attach --interactive`` plays for the CLI path: the host's worker protocol talks to a
child process over two pipes (``sandbox.backend.WorkerProcess``), and the relay turns those pipes into
one hijacked attach connection, demultiplexing docker's 8-byte stream frames so that the host reads
exactly the bytes the worker wrote. The relay does not import the SDK: that import costs 0.2-0.4 s,
paid on every worker start; the relay starts in ~40 ms.

The SDK is imported lazily, so ``sandbox`` stays importable without it; a missing package is reported
with the command that installs it.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from functools import cache
from typing import Any
from urllib.parse import urlparse

SDK_INSTALL_HINT = "pip install 'tooluse-mentor[docker]'"
SDK_MISSING = "the docker SDK (python package `docker`) is not installed"
DEFAULT_SOCKET = "/var/run/docker.sock"
API_TIMEOUT_S = 120
_client_lock = threading.Lock()

RELAY_SOURCE = r'''
import os, select, socket, struct, sys

def connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock

def call(sock, method, path, upgrade=False):
    """Send one bodiless request; return (status, bytes read past the response head)."""
    extra = "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else ""
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n{extra}\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("docker relay: the engine closed the connection")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, rest

def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

def pump(sock, pending):
    """stdin -> attach connection (raw); attach frames -> stdout/stderr (8-byte header: kind, 0, 0, 0, size)."""
    stdin_open = True
    while True:
        while len(pending) >= 8:
            kind, size = struct.unpack(">BxxxL", pending[:8])
            if len(pending) < 8 + size:
                break
            write_all(2 if kind == 2 else 1, pending[8:8 + size])
            del pending[:8 + size]
        ready = select.select([sock, 0] if stdin_open else [sock], [], [])[0]
        if 0 in ready:
            data = os.read(0, 65536)
            if data:
                sock.sendall(data)
            else:  # the host closed our stdin: close the worker's (the container has StdinOnce)
                stdin_open = False
                sock.shutdown(socket.SHUT_WR)
        if sock in ready:
            chunk = sock.recv(1 << 16)
            if not chunk:
                return
            pending += chunk

def main():
    path, base, container = sys.argv[1:4]
    attach = connect(path)
    query = "stream=1&stdin=1&stdout=1&stderr=1"
    status, head, rest = call(attach, "POST", f"{base}/containers/{container}/attach?{query}", upgrade=True)
    if status not in (101, 200):
        sys.exit(f"docker relay: attach answered {head[:300]!r}")
    starter = connect(path)
    status, head, _ = call(starter, "POST", f"{base}/containers/{container}/start")
    if status not in (204, 304):
        sys.exit(f"docker relay: start answered {head[:300]!r} {_[:300]!r}")
    starter.close()
    try:
        pump(attach, bytearray(rest))
    except BrokenPipeError:  # the host is gone
        return 1
    attach.close()
    waiter = connect(path)
    waiter.settimeout(10)
    try:
        status, head, body = call(waiter, "POST", f"{base}/containers/{container}/wait")
        while b"}" not in body.partition(b'"StatusCode":')[2]:  # the (chunked) body follows the head
            chunk = waiter.recv(65536)
            if not chunk:
                return 1
            body += chunk
        text = body.partition(b'"StatusCode":')[2].decode("ascii", "replace")
        return int(text.split("}", 1)[0].split(",", 1)[0])
    except (OSError, ValueError, IndexError):
        return 1

sys.exit(main())
'''
"""The attach relay, run as ``python -I -S -c RELAY_SOURCE <socket> <api prefix> <container>``. Like the
CLI it exits with the container's exit status (128 + signal for a killed worker), and on stdin EOF it
half-closes the attach connection, which closes the worker's stdin (the worker then exits)."""


def load_sdk() -> Any:
    """The ``docker`` package; ``ModuleNotFoundError`` naming the extra when it is not installed."""
    try:
        return importlib.import_module("docker")
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"{SDK_MISSING}: {SDK_INSTALL_HINT}",
                                  name="docker") from exc


def socket_path() -> str | None:
    """The engine's unix socket from ``DOCKER_HOST`` (default ``/var/run/docker.sock``), None for tcp/ssh."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    parsed = urlparse(host)
    return parsed.path if parsed.scheme == "unix" and parsed.path else None


@cache
def api() -> Any:
    """One low-level ``docker.APIClient`` per process (thread-safe enough: one requests session)."""
    with _client_lock:
        return load_sdk().from_env(version="auto", timeout=API_TIMEOUT_S).api


def probe(image: str) -> str | None:
    """Why the SDK path cannot be used, or None when the engine answers and ``image`` exists."""
    try:
        sdk = load_sdk()
    except ModuleNotFoundError as exc:
        return str(exc)
    if socket_path() is None:
        return f"client='sdk' attaches over a unix socket, DOCKER_HOST={os.environ['DOCKER_HOST']!r} is none"
    try:
        client = api()
        client.ping()
        client.inspect_image(image)
    except sdk.errors.ImageNotFound:
        return f"image {image!r} does not exist"
    except Exception as exc:  # requests/urllib3 errors of an engine that does not answer
        return f"the docker engine does not answer through the SDK: {str(exc)[-300:]}"
    return None


def list_labelled(label: str, owner_label: str) -> list[tuple[str, str]]:
    """``(name, owner tag)`` of every container, running or not, that carries ``label=1``."""
    found = api().containers(all=True, filters={"label": f"{label}=1"})
    return [(item["Names"][0].lstrip("/"), (item.get("Labels") or {}).get(owner_label, "")) for item in found]


def create(spec: dict[str, Any]) -> str | None:
    """Create a container from :meth:`ContainerSpec.sdk_kwargs`; the engine's error text, or None."""
    client = api()
    host_config = client.create_host_config(**spec["host_config"])
    try:
        client.create_container(**spec["container"], host_config=host_config)
    except Exception as exc:  # docker.errors.APIError and transport errors alike
        return str(exc)[-500:]
    return None


def stop(name: str) -> bool:
    """Stop at once (SIGKILL after 0 s, as ``docker stop --time 0``); False when the engine lost it."""
    try:
        api().stop(name, timeout=0)
    except Exception:
        return False
    return True


def remove(names: list[str], wait_s: float = 30.0) -> None:
    """Force-remove ``names`` and wait until the engine no longer knows them (a removal may be under way)."""
    sdk, client = load_sdk(), api()
    for name in names:
        try:
            client.remove_container(name, force=True)
            continue
        except sdk.errors.NotFound:
            continue
        except Exception:
            pass
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                client.inspect_container(name)
            except sdk.errors.NotFound:
                break
            except Exception:
                pass
            time.sleep(0.05)


def relay_argv(container: str) -> list[str]:
    """The command that attaches to and starts ``container`` (see :data:`RELAY_SOURCE`)."""
    path = socket_path()
    assert path is not None, "probe() rejects engines without a unix socket"
    prefix = f"/v{api().api_version}"
    return [sys.executable, "-I", "-S", "-c", RELAY_SOURCE, path, prefix, container]
