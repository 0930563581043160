"""Serve = eval: one checkpoint played greedily through ``mentor eval --agent hf:`` and through ``mentor serve``
+ ``--agent openai:`` gives the same episodes, turn for turn.

The local path is token-in-token-out: a later turn's prompt holds the earlier turns as sampled. A client
sends the env's record of those turns back, and the env keeps tool calls parsed (malformed blocks dropped,
JSON re-serialised), so a server that re-rendered the messages would show the model a history it never
wrote. The student here is the tiny preset after a few SFT steps on oracle turns written in a compact
layout (``<tool_call>{"name":"add",...}</tool_call>``) the env's record does not reproduce: every tool-call
turn it writes, well- or malformed, is one such turn. The tests check that it does write such turns
followed by further turns (else they would prove nothing), that the server generates from the very token
ids the local rollout does, and that the episodes, rewards and ``mentor eval`` rows agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from mentor_agents.cli import main  # noqa: E402
from mentor_agents.cli.serve import serve_app  # noqa: E402
from mentor_agents.models import build_tiny_model, load_preset  # noqa: E402
from mentor_agents.policies.base import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.policies.openai import OpenAIPolicy  # noqa: E402
from mentor_agents.rollout import Trajectory, make_envs, rollout  # noqa: E402
from mentor_agents.serve import build_app  # noqa: E402
from mentor_agents.teachers import Conversation, OracleTeacher  # noqa: E402
from mentor_agents.tokenizer import encode, render  # noqa: E402
from mentor_agents.train.config import SFTConfig  # noqa: E402
from mentor_agents.train.sft import train_sft  # noqa: E402
from tooluse_envs.rest.transport import LoopbackServer  # noqa: E402

ENV = "tooluse/Calculator-v0"
EPISODES = 4
MAX_NEW_TOKENS = 32
MAX_TURNS = 4
GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=MAX_NEW_TOKENS)
SFT = SFTConfig(steps=60, batch_size=2, lr=5e-3, warmup_steps=2, checkpoint_every=1000)
"""Few enough steps that the student still writes malformed calls now and then, enough that it writes
``<tool_call>`` turns that end with EOS, so its episodes go on after them."""


def compact(message: dict[str, Any]) -> dict[str, Any]:
    """An oracle assistant turn with its calls in a compact layout, as plain text (what the student learns)."""
    calls = message.get("tool_calls") or []
    if not calls:
        return message
    blocks = [json.dumps(call["function"], separators=(",", ":")) for call in calls]
    return {"role": "assistant", "content": "".join(f"<tool_call>{block}</tool_call>" for block in blocks)}


@pytest.fixture(scope="module")
def student(tokenizer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory, as ``mentor train`` leaves one: the tiny preset after ``SFT`` on compact turns."""
    root = tmp_path_factory.mktemp("student")
    oracle = OracleTeacher().conversations()[:8]
    conversations = [Conversation(c.task_id, [compact(m) for m in c.messages], c.tools) for c in oracle]
    model = train_sft(SFT, build_tiny_model(tokenizer, seed=0), tokenizer, conversations, root / "sft", progress=False)
    model.save_pretrained(root / "final_model")
    tokenizer.save_pretrained(root / "final_model")
    return root / "final_model"


class Recorder:
    """The served policy, keeping every prompt the server generated from (token ids)."""

    def __init__(self, policy: HFPolicy) -> None:
        self.policy, self.tokenizer, self.prompts = policy, policy.tokenizer, []

    def generate(self, prompts, sampling, tools=None):
        self.prompts += [tuple(p) for p in prompts]
        return self.policy.generate(prompts, sampling, tools=tools)


def task_ids(n: int = EPISODES) -> list[str]:
    (env,) = make_envs(ENV, 1, split="test_id")
    ids = [task.id for task in env.unwrapped.tasks[:n]]
    env.close()
    return ids


def play(policy: Any, tokenizer: Any) -> list[Trajectory]:
    """``EPISODES`` test_id episodes in one rollout, as ``mentor eval --batch-size 4`` plays them."""
    envs = make_envs(ENV, EPISODES, split="test_id", max_turns=MAX_TURNS, reward="mentor")
    try:
        return rollout(envs, policy, tokenizer, GREEDY, task_ids(), seed=0)
    finally:
        for env in envs:
            env.close()


def turn_prompts(traj: Trajectory) -> list[tuple[int, ...]]:
    """The prompt ids of each assistant turn of a token-level trajectory (everything before the turn)."""
    mask = traj.loss_mask
    starts = [i for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1])]
    return [tuple(traj.token_ids[:start]) for start in starts]


def tools_of(task_id: str) -> list[dict]:
    (env,) = make_envs(ENV, 1, split="test_id")
    _, info = env.reset(options={"task_id": task_id})
    env.close()
    return info["tools"]


def rewritten_turns(traj: Trajectory, tokenizer: Any) -> int:
    """Turns after the first whose prompt, rendered from the env's record of the conversation, is not the
    token-level one: where a server that re-rendered messages would have shown the model another history."""
    tools = tools_of(traj.task_id)
    starts = [k for k, m in enumerate(traj.messages) if m["role"] == "assistant"]
    rendered = [tuple(encode(tokenizer, render(tokenizer, traj.messages[:k], tools, True))) for k in starts]
    return sum(a != b for a, b in zip(turn_prompts(traj)[1:], rendered[1:], strict=True))


def test_served_episodes_equal_local_ones_turn_for_turn(student):
    model, tokenizer = load_preset(f"hf:{student}")
    here = play(HFPolicy(model, tokenizer, batch_size=EPISODES), tokenizer)
    served = Recorder(HFPolicy(*load_preset(f"hf:{student}")))
    server = LoopbackServer(build_app(served, "student"))
    try:
        there = play(OpenAIPolicy("student", base_url=f"{server.url}/v1"), tokenizer)
    finally:
        server.stop()
    assert sum(rewritten_turns(traj, tokenizer) for traj in here) >= 2  # else this test proves nothing
    local_prompts = [p for traj in here for p in turn_prompts(traj)]
    assert sorted(served.prompts) == sorted(local_prompts)  # the very token ids, every turn
    for task_id, a, b in zip(task_ids(), here, there, strict=True):
        assert b.messages == a.messages, task_id
        assert b.episode == a.episode, task_id  # tool calls, validity, turns, answer, finish (EOS)
        assert (b.reward, b.reward_components) == (a.reward, a.reward_components), task_id


def eval_rows(agent: str, out: Path) -> list[dict]:
    """``mentor eval`` of ``agent`` on the test's episodes; its episode rows without their wall time."""
    args = ["eval", "--agent", agent, "--env", ENV, "--split", "test_id", "--episodes", str(EPISODES)]
    args += ["--batch-size", str(EPISODES), "--max-new-tokens", str(MAX_NEW_TOKENS), "--max-turns", str(MAX_TURNS)]
    assert main([*args, "--reward", "mentor", "--quiet", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.with_suffix(".episodes.jsonl").read_text().splitlines()[1:]]
    return sorted(({k: v for k, v in row.items() if k != "wall_s"} for row in rows), key=lambda r: r["task_id"])


def test_mentor_eval_through_mentor_serve_writes_the_rows_of_mentor_eval_hf(student, tiny_cache, monkeypatch, tmp_path):
    """The CLI end to end: ``mentor serve``'s app on loopback, ``mentor eval --agent openai:`` against it and
    ``--agent hf:`` on the same directory write the same episode rows (rewards, calls, validity, answers,
    turns, generated tokens) and so the same success, reward and invalid-call rate."""
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))  # the tokenizer openai: agents render with
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    local = eval_rows(f"hf:{student}", tmp_path / "hf.json")
    server = LoopbackServer(serve_app(f"hf:{student}", "student"))
    try:
        served = eval_rows(f"openai:{server.url}/v1#student", tmp_path / "served.json")
    finally:
        server.stop()
    assert any(row["turns"] > 1 and row["tool_calls"] for row in local)  # episodes go on after tool calls
    assert served == local
    metrics = [
        json.loads((tmp_path / name).read_text())["results"][0]["metrics"] for name in ("hf.json", "served.json")
    ]
    for key in ("success", "reward_mean", "invalid_call_rate", "tokens_generated"):
        assert metrics[1][key] == metrics[0][key], key
