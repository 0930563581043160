"""GRPO rollout collection on Ray: the same trajectories as in-process collection, dead actors replaced."""

from __future__ import annotations

import functools
import json

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'tooluse-mentor[ray]')")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

ENV_ID = "tooluse/Calculator-v0"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mentor-cache")


@pytest.fixture(scope="module", autouse=True)
def ray_cluster(cache):
    env = {"TOOLUSE_MENTOR_CACHE": str(cache)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLUSE_MENTOR_CACHE", str(cache))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
        yield
        ray.shutdown()


@pytest.fixture(scope="module")
def tokenizer(cache):
    from mentor_agents.tokenizer import load_tiny_tokenizer

    return load_tiny_tokenizer(cache)


def _task_ids(n: int) -> list[str]:
    from mentor_agents.rollout import make_envs

    return [t.id for t in make_envs(ENV_ID, 1, split="train")[0].unwrapped.tasks[:n]]


def _local(model, tokenizer, chunks, sampling):
    from mentor_agents.policies.hf import HFPolicy
    from mentor_agents.rollout import make_envs, play_chunks
    from mentor_agents.train.common import torch_threads

    envs = make_envs(ENV_ID, max(len(c.task_ids) for c in chunks), split="train", reward="mentor")
    policy = HFPolicy(model, tokenizer, device="cpu", dtype=torch.float32)
    with torch_threads(1):  # what each actor uses
        return play_chunks(envs, policy, tokenizer, sampling, chunks)


def _tokens(trajs) -> list[tuple]:
    return [(t.task_id, t.token_ids, t.loss_mask, t.old_logprobs, t.reward) for t in trajs]


@pytest.mark.slow
def test_scripted_rollouts_on_ray_match_local(tokenizer):
    from mentor_agents.distributed.rollout_actors import RayRolloutWorkers, scripted_policy
    from mentor_agents.policies.base import SamplingParams
    from mentor_agents.rollout import make_envs, play_chunks, split_into_chunks

    chunks = split_into_chunks(_task_ids(4), 2, seed=0)
    sampling = SamplingParams(temperature=0.0, max_new_tokens=128)
    workers = RayRolloutWorkers(functools.partial(scripted_policy, ENV_ID), ENV_ID, workers=2)
    try:
        remote = workers.collect(chunks, sampling)
    finally:
        workers.shutdown()
    policy, _ = scripted_policy(ENV_ID)
    local = play_chunks(make_envs(ENV_ID, 2, split="train"), policy, tokenizer, sampling, chunks)
    assert [t.task_id for t in remote] == _task_ids(4)
    assert _tokens(remote) == _tokens(local)
    assert all(t.episode["success"] for t in remote)


@pytest.mark.slow
def test_dead_rollout_actor_is_replaced_and_catches_up_on_weights(tokenizer, tmp_path, monkeypatch):
    """A sampled (temperature 0.6) tiny model: the chunk a dying actor held is rerun on a fresh actor with
    the same tokens, and the fresh actor pulls the learner's newer weights on its own."""
    from mentor_agents.distributed.rollout_actors import ray_rollout_workers
    from mentor_agents.models import build_tiny_model
    from mentor_agents.policies.base import SamplingParams
    from mentor_agents.rollout import split_into_chunks

    model = build_tiny_model(tokenizer, seed=0)
    sampling = SamplingParams(temperature=0.6, top_p=0.95, max_new_tokens=12)
    chunks = split_into_chunks([t for t in _task_ids(3) for _ in range(2)], 3, seed=7)
    from mentor_agents.distributed import faults

    marker = tmp_path / "crash-once"
    monkeypatch.setattr(faults, "CRASH_MARKER", str(marker))
    env_kwargs = dict(split="train", reward="mentor")
    workers = ray_rollout_workers(model, tokenizer, ENV_ID, 2, env_kwargs, threads=1)
    try:
        workers.sync_weights(model)
        first = workers.collect(chunks, sampling)
        assert workers.replaced == 0
        with torch.no_grad():  # the learner moves on: every parameter changes
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        marker.touch()  # the next actor to start a chunk dies; its replacement starts from the initial weights
        workers.sync_weights(model)
        second = workers.collect(chunks, sampling)
    finally:
        workers.shutdown()
    assert not marker.exists(), "no actor crashed, so the test proved nothing"
    assert workers.replaced == 1
    assert _tokens(second) == _tokens(_local(model, tokenizer, chunks, sampling))
    assert _tokens(first) != _tokens(second)


@pytest.mark.slow
@pytest.mark.skipif(
    torch.cuda.is_available(), reason="in-process GRPO samples on the GPU and actors on CPU: identity is CPU-only"
)
def test_grpo_on_ray_trains_exactly_as_in_process(tokenizer, tmp_path):
    """Same config: metrics and final weights equal, whether 2 actors or this process collect."""
    from mentor_agents.models import build_tiny_model
    from mentor_agents.train.grpo import GRPOConfig, train_grpo

    base = dict(
        steps=2, prompts_per_step=2, group_size=2, max_new_tokens=8, max_turns=1, rollout_batch=2, rollout_threads=1
    )
    runs = {}
    for name, workers in (("local", 0), ("ray", 2)):
        cfg = GRPOConfig(**base, ray_workers=workers)
        model = train_grpo(cfg, build_tiny_model(tokenizer, seed=0), tokenizer, tmp_path / name, progress=False)
        rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        rows = [{k: v for k, v in r.items() if not k.endswith("_time")} for r in rows]
        runs[name] = (rows, {k: v.detach().clone() for k, v in model.state_dict().items()})
    (local_rows, local_state), (ray_rows, ray_state) = runs["local"], runs["ray"]
    assert [r["step"] for r in ray_rows] == [1, 2] and all(r["generated_tokens"] > 0 for r in ray_rows)
    assert ray_rows == local_rows
    assert all(torch.equal(local_state[k], ray_state[k]) for k in local_state)
    untrained = build_tiny_model(tokenizer, seed=0).state_dict()
    assert any(not torch.equal(untrained[k], ray_state[k]) for k in untrained)


@pytest.mark.slow
def test_shutdown_closes_the_actors_sandboxes(tokenizer):
    """``ray.kill`` skips atexit, so without ``close()`` each actor's Docker containers would outlive it."""
    import os
    import subprocess

    from sandbox import DockerConfig
    from sandbox.docker import LABEL
    from sandbox.registry import unavailable_reason

    reason = unavailable_reason(DockerConfig())
    if reason and "docker" not in os.environ.get("TOOLUSE_SANDBOX_REQUIRE", ""):
        pytest.skip(reason=f"docker backend unavailable: {reason}")
    from mentor_agents.distributed.rollout_actors import RayRolloutWorkers, scripted_policy
    from mentor_agents.policies.base import SamplingParams
    from mentor_agents.rollout import make_envs, split_into_chunks

    def containers() -> set[str]:
        out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}=1"], capture_output=True, text=True)
        return set(out.stdout.split())

    before = containers()
    env_id = "tooluse/Code-v0"
    task_ids = [t.id for t in make_envs(env_id, 1, split="train")[0].unwrapped.tasks[:2]]
    kwargs = dict(split="train", sandbox="docker", pool_size=1)
    workers = RayRolloutWorkers(functools.partial(scripted_policy, env_id), env_id, workers=2, env_kwargs=kwargs)
    try:
        trajs = workers.collect(split_into_chunks(task_ids, 2, seed=0), SamplingParams(temperature=0.0))
        assert all(t.episode["success"] for t in trajs)
        assert containers() - before, "the actors started no container, so the test proves nothing"
    finally:
        workers.shutdown()
    assert containers() - before == set()


def test_actors_that_cannot_all_be_placed_are_refused_not_waited_for(tokenizer):
    """2 actors x 2 threads on the 2-CPU test cluster: the second would never start."""
    from mentor_agents.distributed.rollout_actors import ray_rollout_workers
    from mentor_agents.models import build_tiny_model

    model = build_tiny_model(tokenizer, seed=0)
    with pytest.raises(ValueError, match="exceed the cluster's 2 CPUs"):
        ray_rollout_workers(model, tokenizer, ENV_ID, 2, {"split": "train"}, threads=2)


@pytest.mark.slow
def test_a_failing_chunk_raises_and_leaves_the_pool_whole(tokenizer):
    """An error in the unit (not a dead actor) is the caller's to see; the actor that raised stays usable."""
    from mentor_agents.distributed.rollout_actors import RayRolloutWorkers, scripted_policy
    from mentor_agents.policies.base import SamplingParams
    from mentor_agents.rollout import RolloutChunk

    workers = RayRolloutWorkers(functools.partial(scripted_policy, ENV_ID), ENV_ID, workers=2)
    try:
        with pytest.raises(Exception, match="no-such-task"):
            workers.collect([RolloutChunk(0, ("no-such-task",), 0)], SamplingParams(temperature=0.0))
        assert len(workers.pool.idle) == 2 and workers.replaced == 0
        good = workers.collect([RolloutChunk(0, tuple(_task_ids(1)), 0)], SamplingParams(temperature=0.0))
        assert good[0].episode["success"]
    finally:
        workers.shutdown()
