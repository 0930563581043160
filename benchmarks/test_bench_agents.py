"""Trainer throughput for the ``tiny`` preset on CPU: generation tokens/s and one GRPO step.

Run: ``pytest benchmarks/test_bench_agents.py --benchmark-only``; the rates land in ``extra_info``.
With ``--benchmark-disable`` (``make test``) each runs once as a smoke test.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mentor_agents.grpo import GRPOConfig, update  # noqa: E402
from mentor_agents.losses import group_advantages  # noqa: E402
from mentor_agents.models import build_tiny_model  # noqa: E402
from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.rollout import make_envs, rollout  # noqa: E402
from mentor_agents.tokenizer import load_tiny_tokenizer  # noqa: E402

BATCH = 16
NEW_TOKENS = 32


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tokenizer = load_tiny_tokenizer(tmp_path_factory.mktemp("cache"))
    return build_tiny_model(tokenizer, seed=0), tokenizer


def test_generation_tokens_per_second(benchmark, tiny):
    benchmark.group = "tiny preset (CPU)"
    model, tokenizer = tiny
    policy = HFPolicy(model, tokenizer, device="cpu")
    messages = [{"role": "user", "content": "What is 12 times 7? Use the tools."}]
    sampling = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=NEW_TOKENS, seed=0)
    policy.generate([messages] * 2, sampling)  # warm up

    def generate() -> int:
        return sum(len(g.token_ids) for g in policy.generate([messages] * BATCH, sampling))

    tokens = benchmark.pedantic(generate, rounds=3, iterations=1)
    if benchmark.stats is not None:
        benchmark.extra_info["tokens_per_s"] = round(tokens / benchmark.stats.stats.median, 1)


def test_grpo_step_time(benchmark, tiny):
    """Rollouts of 4 tasks x 4 samples (one turn of 32 tokens) plus the PPO update."""
    benchmark.group = "tiny preset (CPU)"
    model, tokenizer = tiny
    cfg = GRPOConfig(prompts_per_step=4, group_size=4, max_new_tokens=NEW_TOKENS, max_turns=1, micro_batch=8)
    envs = make_envs(cfg.env_id, 16, split="train", reward="mentor", max_turns=1)
    policy = HFPolicy(model, tokenizer, device="cpu")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    task_ids = [task.id for task in envs[0].unwrapped.tasks[:4] for _ in range(4)]
    sampling = SamplingParams(cfg.temperature, cfg.top_p, cfg.max_new_tokens)

    def step() -> None:
        trajs = rollout(envs, policy, tokenizer, sampling, task_ids, seed=0)
        advantages = group_advantages(torch.tensor([t.reward for t in trajs]), cfg.group_size)
        update(model, None, optimizer, trajs, advantages, cfg)

    benchmark.pedantic(step, rounds=3, iterations=1)
