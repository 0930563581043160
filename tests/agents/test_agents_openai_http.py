"""``OpenAIPolicy`` over httpx: bounded retries with backoff on 429 / 5xx / dropped connections, none on 4xx.

A scripted loopback server answers each POST from a list of (status, headers, body) replies, so every
case sees exactly which attempts were made. ``time.sleep`` is replaced to record the backoff delays
instead of waiting them.
"""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler

import pytest

from mentor_agents.errors import UserError
from mentor_agents.policies import openai as openai_policy
from mentor_agents.policies.base import SamplingParams
from mentor_agents.policies.openai import OpenAIPolicy

OK_BODY = json.dumps({"choices": [{"message": {"content": "hello"}, "finish_reason": "stop"}]})
Reply = tuple[int, dict[str, str], str]
PROMPT = [[{"role": "user", "content": "hi"}]]
SAMPLING = SamplingParams(max_new_tokens=8)


class _Scripted(BaseHTTPRequestHandler):
    """Pops the next scripted reply; ``None`` closes the connection without answering."""

    replies: list[Reply | None] = []
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        length = int(self.headers.get("Content-Length", "0"))
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                "body": json.loads(self.rfile.read(length))})
        reply = type(self).replies.pop(0) if type(self).replies else (200, {}, OK_BODY)
        if reply is None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, headers, body = reply
        data = body.encode()
        self.send_response(status)
        for key, value in {"Content-Length": str(len(data)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server(serve_http) -> type[_Scripted]:
    return serve_http(type("Handler", (_Scripted,), {"replies": [], "seen": []}))


@pytest.fixture()
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff delays asked for, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(openai_policy.time, "sleep", recorded.append)
    return recorded


def _policy(url: str, **kwargs: object) -> OpenAIPolicy:
    return OpenAIPolicy("m", base_url=url, api_key="k", **kwargs)  # type: ignore[arg-type]


def test_a_plain_answer_is_one_request_with_the_same_body_as_before(server, sleeps):
    (gen,) = _policy(server.url).generate(PROMPT, SAMPLING, tools=[{"type": "function"}])
    assert gen.text == "hello" and gen.finish_reason == "stop"
    (request,) = server.seen
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k"
    assert request["body"] == {"model": "m", "messages": PROMPT[0], "temperature": SAMPLING.temperature,
                               "top_p": SAMPLING.top_p, "max_tokens": 8, "tools": [{"type": "function"}]}
    assert sleeps == []


def test_no_api_key_sends_no_authorization_header(server, sleeps, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (gen,) = OpenAIPolicy("m", base_url=server.url).generate(PROMPT, SAMPLING)
    assert gen.text == "hello" and server.seen[0]["auth"] is None


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_with_growing_backoff(server, sleeps, status):
    server.replies = [(status, {}, "busy"), (status, {}, "busy"), (200, {}, OK_BODY)]
    (gen,) = _policy(server.url, backoff_s=1.0).generate(PROMPT, SAMPLING)
    assert gen.text == "hello" and len(server.seen) == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0  # jittered 1 s, 2 s


def test_retry_after_is_honoured_but_capped(server, sleeps):
    server.replies = [(429, {"Retry-After": "3"}, "slow down"), (503, {"Retry-After": "600"}, "down")]
    _policy(server.url, max_backoff_s=5.0).generate(PROMPT, SAMPLING)
    assert sleeps == [3.0, 5.0]


def test_retries_are_bounded_and_the_last_error_is_one_line(server, sleeps):
    server.replies = [(503, {}, "overloaded")] * 10
    with pytest.raises(UserError, match=r"chat/completions answered HTTP 503 Service Unavailable \(overloaded\)"):
        _policy(server.url, max_retries=2).generate(PROMPT, SAMPLING)
    assert len(server.seen) == 3 and len(sleeps) == 2


def test_backoff_never_exceeds_the_cap(server, sleeps):
    server.replies = [(500, {}, "x")] * 6
    with pytest.raises(UserError):
        _policy(server.url, max_retries=5, backoff_s=1.0, max_backoff_s=4.0).generate(PROMPT, SAMPLING)
    assert len(sleeps) == 5 and max(sleeps) <= 4.0


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_not_retried(server, sleeps, status):
    server.replies = [(status, {}, '{"error": "no"}')]
    with pytest.raises(UserError, match=f"answered HTTP {status}"):
        _policy(server.url).generate(PROMPT, SAMPLING)
    assert len(server.seen) == 1 and sleeps == []


def test_a_dropped_connection_is_retried(server, sleeps):
    server.replies = [None, (200, {}, OK_BODY)]
    (gen,) = _policy(server.url).generate(PROMPT, SAMPLING)
    assert gen.text == "hello" and len(server.seen) == 2 and len(sleeps) == 1


def test_a_closed_port_is_retried_then_reported(sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(UserError, match=f"cannot reach {url}/chat/completions .*is the server running"):
        _policy(url, max_retries=2).generate(PROMPT, SAMPLING)
    assert len(sleeps) == 2


def test_a_read_timeout_is_not_retried(server, sleeps, monkeypatch):
    def slow(*args: object, **kwargs: object) -> None:
        raise openai_policy.httpx.ReadTimeout("timed out")

    monkeypatch.setattr(openai_policy.httpx.Client, "post", slow)
    with pytest.raises(UserError, match="did not answer within 2s"):
        _policy(server.url, timeout_s=2.0).generate(PROMPT, SAMPLING)
    assert sleeps == []


def test_non_json_is_reported_without_retrying(server, sleeps):
    server.replies = [(200, {}, "<html>not an API</html>")]
    with pytest.raises(UserError, match="did not answer JSON"):
        _policy(server.url).generate(PROMPT, SAMPLING)
    assert len(server.seen) == 1 and sleeps == []

