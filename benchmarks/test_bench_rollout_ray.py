"""GRPO rollout collection with the ``tiny`` preset: in this process vs on 2 Ray actors.

One round = one step's collection: 16 episodes (4 tasks x 4 samples, one turn of 32 sampled tokens) cut
into 2 seeded chunks; on Ray it includes publishing the weights, which actors pull before their chunk.
The two produce identical trajectories (tests/eval/test_eval_ray_rollout.py), so only speed differs.
Each actor runs 1 torch thread on its 1 reserved CPU; the in-process baseline runs with 1 thread (the
same tokens) and with 2 (this machine's default).
Run: ``pytest benchmarks/test_bench_rollout_ray.py --benchmark-only``; tokens/s land in ``extra_info``.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from bench_utils import record_rate  # noqa: E402

from mentor_agents.models import build_tiny_model  # noqa: E402
from mentor_agents.policies import SamplingParams  # noqa: E402
from mentor_agents.policies.hf import HFPolicy  # noqa: E402
from mentor_agents.rollout import make_envs, play_chunks, split_into_chunks  # noqa: E402
from mentor_agents.tokenizer import load_tiny_tokenizer  # noqa: E402
from mentor_agents.train.common import torch_threads  # noqa: E402

ENV_ID = "tooluse/Calculator-v0"
ENV_KWARGS = dict(split="train", reward="mentor", max_turns=1)
GROUP = "grpo rollout collection: tiny, 16 episodes in 2 chunks (CPU)"
SAMPLING = SamplingParams(temperature=0.6, top_p=0.95, max_new_tokens=32)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tokenizer = load_tiny_tokenizer(tmp_path_factory.mktemp("cache"))
    model = build_tiny_model(tokenizer, seed=0)
    envs = make_envs(ENV_ID, 8, **ENV_KWARGS)
    task_ids = [task.id for task in envs[0].unwrapped.tasks[:4] for _ in range(4)]
    return model, tokenizer, envs, split_into_chunks(task_ids, 2, seed=0)


def _tokens(trajs) -> int:
    return sum(t.generated_tokens for t in trajs)


@pytest.mark.parametrize("threads", [1, 2])
def test_rollout_collection_in_process(benchmark, setup, threads):
    """threads=1 gives the same tokens as the Ray actors (1 thread each); threads=2 is this machine's default."""
    model, tokenizer, envs, chunks = setup
    benchmark.group = GROUP
    policy = HFPolicy(model, tokenizer, device="cpu", dtype=torch.float32)

    def collect() -> int:
        with torch_threads(threads):
            return _tokens(play_chunks(envs, policy, tokenizer, SAMPLING, chunks))

    tokens = benchmark.pedantic(collect, rounds=3)
    record_rate(benchmark, "tokens_per_s", tokens)


def test_rollout_collection_ray_2_workers(benchmark, setup):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'tooluse-mentor[ray]')")
    from mentor_agents.distributed.rollout_actors import ray_rollout_workers

    model, tokenizer, _, chunks = setup
    benchmark.group = GROUP
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    workers = ray_rollout_workers(model, tokenizer, ENV_ID, 2, ENV_KWARGS, threads=1)
    try:

        def collect() -> int:
            workers.sync_weights(model)
            return _tokens(workers.collect(chunks, SAMPLING))

        tokens = benchmark.pedantic(collect, rounds=3, warmup_rounds=1)
    finally:
        workers.shutdown()
        ray.shutdown()
    record_rate(benchmark, "tokens_per_s", tokens)
