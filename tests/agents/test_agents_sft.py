"""SFT on the oracle teaches the tiny student the tool-call format."""

from __future__ import annotations

import dataclasses

import pytest

torch = pytest.importorskip("torch")

from mentor_agents.models import build_tiny_model  # noqa: E402
from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.rollout import make_envs, rollout  # noqa: E402
from mentor_agents.teachers import OracleTeacher, conversation_ids  # noqa: E402
from mentor_agents.train.metrics import read_metrics, rollout_metrics  # noqa: E402
from mentor_agents.train.sft import SFTConfig, batch_order, train_sft  # noqa: E402


def _greedy_metrics(model, tokenizer) -> dict[str, float]:
    envs = make_envs("tooluse/Calculator-v0", 8, split="test_id", reward="mentor", max_turns=3)
    ids = [task.id for task in envs[0].unwrapped.tasks[:8]]
    trajs = rollout(envs, HFPolicy(model, tokenizer, device="cpu"), tokenizer, SamplingParams(0.0, 1.0, 48), ids)
    valid = [sum(c["valid"] for c in t.episode["tool_calls"]) > 0 for t in trajs]
    return rollout_metrics(trajs) | {"has_valid_call": sum(valid) / len(valid)}


def test_conversation_ids_mask_only_assistant_turns(tokenizer):
    (conv,) = OracleTeacher().conversations(["calculator/train/00001"])
    ids, mask = conversation_ids(tokenizer, conv.messages, conv.tools)
    trained = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m], skip_special_tokens=False)
    assert trained.count("<tool_call>") == 2 and trained.endswith("\\boxed{29.96}.<|im_end|>")
    assert "<tool_response>" not in trained


def test_batch_order_covers_each_epoch_once():
    first_epoch = batch_order(10, 0, 10, seed=0)
    assert sorted(first_epoch) == list(range(10))
    assert batch_order(10, 4, 3, seed=0) == first_epoch[4:7]


def test_sft_loss_falls_and_resume_continues(tokenizer, tiny_model, tmp_path):
    conversations = OracleTeacher().conversations()[:32]
    cfg = SFTConfig(steps=8, batch_size=4, lr=5e-3, warmup_steps=2, checkpoint_every=4)
    train_sft(cfg, tiny_model, tokenizer, conversations, tmp_path, progress=False)
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert rows[-1]["loss"] < 0.8 * rows[0]["loss"]
    # stop at step 4, resume to 8 from a fresh (differently seeded) model: same weights, same losses
    part = tmp_path / "part"
    half = dataclasses.replace(cfg, steps=4)
    train_sft(half, build_tiny_model(tokenizer, 0), tokenizer, conversations, part, resume=False, progress=False)
    resumed = train_sft(cfg, build_tiny_model(tokenizer, 1), tokenizer, conversations, part, True, False)
    for a, b in zip(tiny_model.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert [r["loss"] for r in read_metrics(part / "metrics.jsonl")] == [r["loss"] for r in rows]


@pytest.mark.slow
def test_sft_on_oracle_teaches_valid_tool_calls(tokenizer, tiny_model, tmp_path):
    before = _greedy_metrics(tiny_model, tokenizer)
    assert before["has_valid_call"] == 0.0
    conversations = OracleTeacher().conversations()[:256]
    cfg = SFTConfig(steps=150, batch_size=8, lr=5e-3, warmup_steps=5, checkpoint_every=1000)
    model = train_sft(cfg, tiny_model, tokenizer, conversations, tmp_path, progress=False)
    after = _greedy_metrics(model, tokenizer)
    assert after["has_valid_call"] >= 0.5
    assert after["invalid_call_rate"] < 0.5
    assert after["ended_with_eos"] == 1.0
