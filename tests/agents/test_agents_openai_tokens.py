"""``openai:`` agents: token counts from the server's ``usage``, and ``--api-key`` / ``--api-key-env``.

A loopback server plays a two-turn Calculator episode (a tool call, then a boxed answer) and reports
``usage.completion_tokens`` per turn, different for every episode, so an episode credited with another
one's counts, or with none, shows. The key given by flag must reach the Authorization header and no
file ``mentor eval`` writes.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from mentor_agents.cli import main
from mentor_agents.policies.base import SamplingParams
from mentor_agents.policies.openai import ChatGeneration, OpenAIPolicy

TOOL_CALL_TOKENS = 5
SECRET = "sk-test-0123456789-do-not-store"
TOOL_TURN = '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'


def answer_tokens(question: str) -> int:
    """The final turn's count: depends on the episode's question, so each episode's total differs."""
    return len(question) % 50 + 11


class _Usage(BaseHTTPRequestHandler):
    """Turn 1: a tool call; turn 2: an answer. ``with_usage`` False leaves ``usage`` out of every reply."""

    with_usage = True
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        type(self).seen.append({"auth": self.headers.get("Authorization"), "body": body})
        messages = body["messages"]
        question = next(m["content"] for m in messages if m["role"] == "user")
        if not any(m["role"] == "assistant" for m in messages):
            content, tokens = TOOL_TURN, TOOL_CALL_TOKENS
        else:
            content, tokens = f"The answer is \\boxed{{{len(question)}}}", answer_tokens(question)
        reply: dict = {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}
        if self.with_usage:
            reply["usage"] = {"prompt_tokens": 1000, "completion_tokens": tokens, "total_tokens": 1000 + tokens}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server(serve_http) -> type[_Usage]:
    return serve_http(type("Handler", (_Usage,), {"seen": [], "with_usage": True}))


@pytest.fixture()
def cli_env(monkeypatch: pytest.MonkeyPatch, tiny_cache, tokenizer) -> pytest.MonkeyPatch:
    """The tiny tokenizer from the session cache; OPENAI_API_KEY unset, and restored after the test."""
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return monkeypatch


def run_eval(url: str, out: Path, *extra: str) -> int:
    args = ["eval", "--agent", f"openai:{url}#m", "--env", "tooluse/Calculator-v0", "--split", "test_id"]
    args += ["--episodes", "3", "--batch-size", "3", "--max-turns", "3", "--quiet", "--out", str(out)]
    return main([*args, *extra])


def episode_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.with_suffix(".episodes.jsonl").read_text().splitlines()[1:]]


def questions(task_ids: list[str]) -> dict[str, str]:
    from tooluse_envs.tasks import load_tasks

    by_id = {task.id: task.question for task in load_tasks("calculator", "test_id")}
    return {tid: by_id[tid] for tid in task_ids}


# -- the policy ----------------------------------------------------------------------------------------


def test_a_generation_carries_the_servers_completion_tokens(server):
    policy = OpenAIPolicy("m", base_url=server.url, api_key="k")
    (gen,) = policy.generate([[{"role": "user", "content": "hi"}]], SamplingParams(max_new_tokens=8))
    assert isinstance(gen, ChatGeneration) and gen.completion_tokens == TOOL_CALL_TOKENS
    assert gen.token_ids == [] and gen.text == TOOL_TURN


def test_a_reply_without_usage_gives_none_not_a_guess(server):
    server.with_usage = False
    (gen,) = OpenAIPolicy("m", base_url=server.url, api_key="k").generate(
        [[{"role": "user", "content": "hi"}]], SamplingParams(max_new_tokens=8)
    )
    assert gen.completion_tokens is None


@pytest.mark.parametrize(
    "usage", [None, {}, {"completion_tokens": "7"}, {"completion_tokens": -1}, {"completion_tokens": True}, "7"]
)
def test_unusable_usage_values_are_none(usage):
    from mentor_agents.policies.openai import _to_generation

    reply = {"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}], "usage": usage}
    assert _to_generation(reply).completion_tokens is None


# -- mentor eval: counts -------------------------------------------------------------------------------


def test_eval_counts_each_episodes_own_completion_tokens(server, cli_env, tmp_path):
    out = tmp_path / "r.json"
    assert run_eval(server.url, out) == 0
    rows = episode_rows(out)
    asked = questions([r["task_id"] for r in rows])
    assert len(rows) == 3 and len({answer_tokens(q) for q in asked.values()}) > 1  # counts that tell episodes apart
    for row in rows:
        assert row["turns"] == 2
        assert row["generated_tokens"] == TOOL_CALL_TOKENS + answer_tokens(asked[row["task_id"]]), row
    (slot,) = json.loads(out.read_text())["results"]
    assert slot["metrics"]["tokens_generated"] == sum(r["generated_tokens"] for r in rows) > 0


def test_eval_without_usage_counts_zero_and_warns_once(server, cli_env, tmp_path):
    server.with_usage = False
    out = tmp_path / "r.json"
    with pytest.warns(RuntimeWarning, match="sent no usage.completion_tokens") as caught:
        assert run_eval(server.url, out) == 0
    assert len([w for w in caught if "usage" in str(w.message)]) == 1
    assert [r["generated_tokens"] for r in episode_rows(out)] == [0, 0, 0]


# -- mentor eval: the API key --------------------------------------------------------------------------


def written_text(folder: Path) -> str:
    return "\n".join(path.read_text(errors="replace") for path in sorted(folder.rglob("*")) if path.is_file())


def test_api_key_env_reaches_the_header_and_no_results_file(server, cli_env, tmp_path):
    cli_env.setenv("MY_SERVER_KEY", SECRET)
    out = tmp_path / "results" / "r.json"
    assert run_eval(server.url, out, "--api-key-env", "MY_SERVER_KEY") == 0
    assert server.seen and {s["auth"] for s in server.seen} == {f"Bearer {SECRET}"}
    text = written_text(out.parent)
    assert "tokens_generated" in text and SECRET not in text


def test_api_key_flag_reaches_the_header_and_no_results_file(server, cli_env, tmp_path, capsys):
    out = tmp_path / "results" / "r.json"
    assert run_eval(server.url, out, "--api-key", SECRET) == 0
    assert {s["auth"] for s in server.seen} == {f"Bearer {SECRET}"}
    assert SECRET not in written_text(out.parent) and SECRET not in "".join(capsys.readouterr())


def test_without_flags_no_key_is_sent(server, cli_env, tmp_path):
    assert run_eval(server.url, tmp_path / "r.json") == 0
    assert {s["auth"] for s in server.seen} == {None}


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--api-key-env", "NO_SUCH_KEY_VAR"], ["--api-key-env NO_SUCH_KEY_VAR", "not set"]),
        (["--api-key", SECRET, "--api-key-env", "X"], ["--api-key or --api-key-env, not both"]),
    ],
)
def test_bad_key_flags_are_one_line_without_the_key(flags, words, server, cli_env, tmp_path, capsys):
    cli_env.delenv("NO_SUCH_KEY_VAR", raising=False)
    assert run_eval(server.url, tmp_path / "r.json", *flags) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mentor eval: ") and SECRET not in err, err
    assert all(word in lines[0] for word in words), lines[0]
    assert server.seen == []


def test_teach_takes_the_key_flags():
    from mentor_agents.cli import build_parser

    args = build_parser().parse_args(
        ["teach", "--teacher", "openai:http://x/v1#m", "--out", "t.jsonl", "--api-key-env", "MY_SERVER_KEY"]
    )
    assert (args.api_key, args.api_key_env) == (None, "MY_SERVER_KEY")
