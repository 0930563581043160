"""Policies: sampling helpers, the scripted baselines and the OpenAI-compatible client (fake server)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

torch = pytest.importorskip("torch")

from mentor_agents.policies import Policy, SamplingParams, ScriptedPolicy  # noqa: E402
from mentor_agents.policies.hf import HFPolicy, sample_next  # noqa: E402
from mentor_agents.policies.openai import OpenAIPolicy  # noqa: E402
from mentor_agents.rollout import make_envs, rollout  # noqa: E402
from tooluse_envs.tasks import load_tasks  # noqa: E402


def test_greedy_and_top_p_sampling():
    logits = torch.tensor([[0.0, 3.0, 1.0]])
    tokens, logp = sample_next(logits, 0.0, 1.0, None)
    assert tokens.tolist() == [1] and logp.item() == pytest.approx(torch.log_softmax(logits, -1)[0, 1].item())
    generator = torch.Generator().manual_seed(0)
    # top-p 0.5 keeps only the most likely token (its probability alone exceeds 0.5)
    samples = {sample_next(logits, 1.0, 0.5, generator)[0].item() for _ in range(50)}
    assert samples == {1}


def test_policies_satisfy_the_protocol(tokenizer, tiny_model, train_tasks):
    assert isinstance(ScriptedPolicy(tokenizer, train_tasks), Policy)
    assert isinstance(HFPolicy(tiny_model, tokenizer, device="cpu"), Policy)
    assert isinstance(OpenAIPolicy("m"), Policy)


def test_hf_policy_length_finish_and_chat_prompts(tokenizer, tiny_model):
    policy = HFPolicy(tiny_model, tokenizer, device="cpu")
    messages = [{"role": "user", "content": "What is 2 + 2?"}]
    (gen,) = policy.generate([messages], SamplingParams(temperature=1.0, max_new_tokens=5, seed=0))
    assert gen.finish_reason in ("stop", "length") and len(gen.token_ids) == len(gen.logprobs) <= 5
    if gen.finish_reason == "length":
        assert len(gen.token_ids) == 5 and tokenizer.eos_token_id not in gen.token_ids


def test_no_tool_baseline_gets_the_format_floor(tokenizer, train_tasks):
    envs = make_envs("tooluse/Calculator-v0", 2, split="train", reward="mentor")
    policy = ScriptedPolicy(tokenizer, train_tasks, mode="no_tool")
    tasks = [t for t in train_tasks if float(t.expected["answer"]) != 0][:2]
    trajs = rollout(envs, policy, tokenizer, SamplingParams(), [t.id for t in tasks])
    assert all(t.episode["turns"] == 1 and not t.episode["tool_calls"] for t in trajs)
    # wrong answer, no tool (so no match with the teacher's set), no unknown tool: 0.7·0 + 0.3·0 + 0.1·1
    assert [t.reward for t in trajs] == pytest.approx([0.1, 0.1])
    assert all(t.reward_components == {"c": 0.0, "m": 0.0, "h": 1.0} for t in trajs)


TASK_ID = "calculator/train/00000"


class _FakeChat(BaseHTTPRequestHandler):
    """Replays the task's reference: one turn of its tool calls per request, then the boxed answer."""

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["tools"] and body["max_tokens"] == 64
        reference = next(t for t in load_tasks("calculator", "train") if t.id == TASK_ID).reference
        groups = reference.call_groups()
        done = sum(m["role"] == "assistant" for m in body["messages"])
        if done < len(groups):
            calls = [
                {"type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                for c in groups[done]
            ]
            message, reason = {"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls"
        else:
            message, reason = {"role": "assistant", "content": f"\\boxed{{{reference.answer}}}"}, "stop"
        data = json.dumps({"choices": [{"message": message, "finish_reason": reason}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_openai_policy_plays_an_episode(tokenizer):
    server = HTTPServer(("127.0.0.1", 0), _FakeChat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        policy = OpenAIPolicy("fake", base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="x")
        envs = make_envs("tooluse/Calculator-v0", 1, split="train", reward="mentor")
        sampling = SamplingParams(max_new_tokens=64)
        (traj,) = rollout(envs, policy, tokenizer, sampling, [TASK_ID])
    finally:
        server.shutdown()
    assert traj.episode["success"] and traj.reward == pytest.approx(1.1)
    assert traj.generated_tokens == 0  # remote policies return text only
