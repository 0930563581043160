"""The environment's loopback REST server answers only the process that started it (issue 13, item 4).

A loopback port is reachable by every local process; without a secret, any of them could open episodes
until the stores evict live ones, close them, or read and change their state. The env's server demands
a per-process token; a foreign client (no token, or a wrong one) is refused and the episode goes on.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tooluse_envs.domains.rest import RestDomain, operations
from tooluse_envs.rest import services
from tooluse_envs.rest.hub import build_hub
from tooluse_envs.rest.service import EPISODE_HEADER
from tooluse_envs.rest.transport import TOKEN_HEADER, LoopbackServer, TokenGate, running_servers

ORDER = {"customer": "Ann", "items": [{"product_id": "P-1001", "quantity": 1}]}


@pytest.fixture
def live_episode():
    """An http-transport domain with one open episode that has placed an order: (domain, server, episode)."""
    domain = RestDomain(transport="http")
    client = domain.client()
    episode = client.open_episode()
    placed = client.execute(operations()["create_order"], ORDER, episode)
    assert placed.status == 201, placed.observation()
    ((server, _),) = running_servers().values()
    yield domain, server, episode
    domain.close()


def _orders(domain: RestDomain, episode: str) -> list[dict]:
    return domain.client().state(episode, ["shop"])["shop"]["orders"]


def _attack(http: httpx.Client, episode: str) -> list[int]:
    """Everything a foreign process might try on the episode; the status code of each attempt."""
    codes = [http.post("/_episodes").status_code for _ in range(5)]  # would evict live episodes at the cap
    codes.append(http.get(f"/_episodes/{episode}/state").status_code)
    codes.append(http.post("/shop/orders", json=ORDER, headers={EPISODE_HEADER: episode}).status_code)
    codes.append(http.get("/shop/orders", headers={EPISODE_HEADER: episode}).status_code)
    codes.append(http.get("/").status_code)
    codes.append(http.delete(f"/_episodes/{episode}").status_code)
    return codes


def test_the_env_server_demands_a_token(live_episode):
    _, server, _ = live_episode
    assert server.token and len(server.token) >= 32
    assert server.url == f"{server.origin}/{server.token}" and server.token not in server.origin
    assert server.headers == {TOKEN_HEADER: server.token}


def test_a_client_without_the_token_is_refused_and_the_episode_goes_on(live_episode):
    domain, server, episode = live_episode
    before = _orders(domain, episode)
    assert len(before) >= 1
    with httpx.Client(base_url=server.origin, timeout=10) as foreign:
        codes = _attack(foreign, episode)
        refusal = foreign.delete(f"/_episodes/{episode}")
    assert set(codes) == {401}, codes
    assert refusal.json()["error"] == "unauthorized"
    assert "www-authenticate" in refusal.headers
    assert _orders(domain, episode) == before  # not closed, not changed
    again = domain.client().execute(operations()["create_order"], ORDER, episode)
    assert again.status == 201, again.observation()
    assert len(_orders(domain, episode)) == len(before) + 1


@pytest.mark.parametrize("how", ["header", "path", "bearer"])
def test_a_wrong_token_is_refused(live_episode, how):
    domain, server, episode = live_episode
    wrong = "x" * len(server.token)
    if how == "header":
        foreign, expected = httpx.Client(base_url=server.origin, headers={TOKEN_HEADER: wrong}, timeout=10), 403
    elif how == "path":
        foreign, expected = httpx.Client(base_url=f"{server.origin}/{wrong}", timeout=10), 401
    else:  # Authorization belongs to the services (bank tokens): it opens nothing here
        foreign = httpx.Client(base_url=server.origin, headers={"Authorization": f"Bearer {server.token}"}, timeout=10)
        expected = 401
    with foreign:
        codes = _attack(foreign, episode)
    assert set(codes) == {expected}, codes
    assert len(_orders(domain, episode)) >= 1


def test_another_process_is_refused(live_episode):
    domain, server, episode = live_episode
    script = (
        "import sys, urllib.request, urllib.error\n"
        "request = urllib.request.Request(sys.argv[1], method='DELETE')\n"
        "try:\n"
        "    urllib.request.urlopen(request, timeout=10)\n"
        "    print(200)\n"
        "except urllib.error.HTTPError as exc:\n"
        "    print(exc.code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, f"{server.origin}/_episodes/{episode}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "401", done.stderr
    assert len(_orders(domain, episode)) >= 1


@pytest.mark.parametrize("how", ["header", "path"])
def test_both_ways_of_presenting_the_token_are_accepted(live_episode, how):
    _, server, episode = live_episode
    if how == "header":
        own = httpx.Client(base_url=server.origin, headers=server.headers, timeout=10)
    else:
        own = httpx.Client(base_url=server.url, timeout=10)
    with own:
        response = own.get(f"/_episodes/{episode}/state", params={"service": "shop"})
        assert response.status_code == 200, response.text
        assert own.get("/").json()["services"]  # the app sees its own paths, the prefix stripped


def test_the_token_header_never_reaches_the_services():
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["path"], [k for k, _ in scope["headers"]]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    server = LoopbackServer(app, token="t0ken")
    try:
        with httpx.Client(base_url=server.origin, headers=server.headers, timeout=10) as client:
            assert client.get("/a/b").status_code == 200
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/c").status_code == 200
    finally:
        server.stop()
    assert [path for path, _ in seen] == ["/a/b", "/c"]
    assert all(TOKEN_HEADER.lower().encode() not in headers for _, headers in seen)


def test_a_server_without_a_token_stays_open_and_a_bad_token_is_rejected():
    server = LoopbackServer(build_hub([services.load("weather")]))
    try:
        assert server.token is None and server.url == server.origin and server.headers == {}
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/").status_code == 200
    finally:
        server.stop()
    for bad in ("", "a/b"):
        with pytest.raises(ValueError, match="token"):
            TokenGate(build_hub([services.load("weather")]), bad)
