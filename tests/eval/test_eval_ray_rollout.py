"""GRPO rollout collection on Ray actors gives the trajectories a local rollout gives."""

from __future__ import annotations

import functools

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'tooluse-mentor[ray]')")
pytest.importorskip("transformers")


@pytest.mark.slow
def test_ray_rollout_workers_match_local_rollout(tmp_path, monkeypatch):
    from mentor_agents.distributed import RayRolloutWorkers, scripted_policy
    from mentor_agents.policies.base import SamplingParams
    from mentor_agents.rollout import make_envs, rollout

    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tmp_path / "cache"))
    env_id = "tooluse/Calculator-v0"
    policy, tokenizer = scripted_policy(env_id)  # also trains the tiny tokenizer into the cache once
    task_ids = [t.id for t in make_envs(env_id, 1, split="train")[0].unwrapped.tasks[:4]]
    sampling = SamplingParams(temperature=0.0, max_new_tokens=128)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"TOOLUSE_MENTOR_CACHE": str(tmp_path / "cache")}},
    )
    try:
        workers = RayRolloutWorkers(functools.partial(scripted_policy, env_id), env_id, workers=2, envs_per_worker=2)
        remote = workers.rollout(task_ids, sampling, seed=0)
        workers.shutdown()
    finally:
        ray.shutdown()
    local = rollout(make_envs(env_id, 4, split="train"), policy, tokenizer, sampling, task_ids, seed=0)
    assert [t.task_id for t in remote] == task_ids
    assert [t.token_ids for t in remote] == [t.token_ids for t in local]
    assert all(t.episode["success"] for t in remote)
