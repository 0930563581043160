"""Ray actors that play GRPO rollout chunks with a copy of the learner's policy, weights pulled per step."""

from __future__ import annotations

import os
from typing import Any

from mentor_agents.distributed import faults
from mentor_agents.distributed.cluster import ActorPool, check_capacity, close_envs, ensure_ray, set_torch_threads


class RolloutWorker:
    """One rollout actor: envs of one id (as many as its largest chunk) and a policy from ``policy_factory``.

    Weights arrive lazily: every chunk names the learner's weight version, and an actor whose copy is
    older fetches them from the object store first, so a replacement actor catches up on its own.
    """

    def __init__(
        self, policy_factory: Any, env_id: str, env_kwargs: dict[str, Any], crash_marker: str | None = None
    ) -> None:
        self.policy, self.tokenizer = policy_factory()
        self.env_id, self.env_kwargs, self.crash_marker = env_id, env_kwargs, crash_marker
        self.envs: list[Any] = []
        self.version = -1

    def rollout(self, chunk: Any, sampling: Any, version: int, weights: list[Any]) -> list[Any]:
        """``weights`` is ``[ObjectRef]`` (a list, so Ray does not fetch it unless we need it) or ``[]``."""
        import ray

        from mentor_agents.rollout import make_envs, play_chunks

        if faults.claim(self.crash_marker):
            os._exit(1)  # simulate a node loss mid-step: the driver must replace us and rerun the chunk
        if weights and version != self.version:
            self.policy.model.load_state_dict(ray.get(weights[0]))
            self.version = version
        missing = len(chunk.task_ids) - len(self.envs)
        if missing > 0:
            self.envs += make_envs(self.env_id, missing, **self.env_kwargs)
        return play_chunks(self.envs, self.policy, self.tokenizer, sampling, [chunk])

    def close(self) -> None:
        close_envs(self.envs)


def scripted_policy(env_id: str, split: str = "train", mode: str = "oracle") -> tuple[Any, Any]:
    """A ``policy_factory`` for ``RayRolloutWorkers``: the scripted oracle and the tiny tokenizer
    (picklable with ``functools.partial``; used to smoke-test rollout collection without a model)."""
    from mentor_agents.policies.scripted import ScriptedPolicy
    from mentor_agents.rollout import make_envs
    from mentor_agents.tokenizer import load_tiny_tokenizer

    tokenizer = load_tiny_tokenizer()
    tasks = make_envs(env_id, 1, split=split)[0].unwrapped.tasks
    return ScriptedPolicy(tokenizer, tasks, mode=mode), tokenizer  # type: ignore[arg-type]


class RayRolloutWorkers:
    """GRPO rollout collection on Ray: ``collect`` plays a step's chunks on a pool of rollout actors.

    ``policy_factory`` is a picklable callable returning ``(policy, tokenizer)``; each actor calls it
    once. ``sync_weights`` publishes the learner's weights; actors pull them with their next chunk.
    """

    def __init__(
        self,
        policy_factory: Any,
        env_id: str,
        workers: int = 2,
        env_kwargs: dict[str, Any] | None = None,
        address: str | None = None,
        max_unit_retries: int = 3,
        cpus_per_worker: float = 1.0,
    ) -> None:
        ray = ensure_ray(address)
        check_capacity(ray, workers, cpus_per_worker, fixed_cluster=address is None)
        remote = ray.remote(num_cpus=cpus_per_worker, max_restarts=0, max_task_retries=0)(RolloutWorker)
        kwargs = env_kwargs or {}
        self._ray = ray
        self._weights: list[Any] = []
        self._version = 0
        self.pool = ActorPool(
            ray, lambda: remote.remote(policy_factory, env_id, kwargs, faults.CRASH_MARKER), workers, max_unit_retries
        )

    def sync_weights(self, model: Any) -> None:
        """Publish ``model``'s weights (one copy in the object store, fetched by each actor on use)."""
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        self._weights = [self._ray.put(state)]
        self._version += 1

    def collect(self, chunks: list[Any], sampling: Any) -> list[Any]:
        """Trajectories of every chunk, in chunk order."""
        version, weights = self._version, self._weights

        def submit(actor: Any, chunk: Any) -> Any:
            return actor.rollout.remote(chunk, sampling, version, weights)

        parts = dict(self.pool.run(chunks, submit))
        return [traj for i in range(len(chunks)) for traj in parts[i]]

    @property
    def replaced(self) -> int:
        """Actors replaced after dying."""
        return self.pool.replaced

    def shutdown(self) -> None:
        self.pool.shutdown()


def hf_policy_on_cpu(
    model: Any, tokenizer: Any, torch_threads: int | None = None, precision: str = "auto", share_prefix: bool = True
) -> tuple[Any, Any]:
    """A ``policy_factory`` for ``RayRolloutWorkers``: an ``HFPolicy`` over a copy of the learner's model,
    generating in the learner's ``precision`` (so Ray and in-process rollouts sample the same tokens)."""
    import torch

    from mentor_agents.policies.hf import HFPolicy

    set_torch_threads(torch_threads)
    policy = HFPolicy(model, tokenizer, "cpu", torch.float32, precision=precision, share_prefix=share_prefix)
    return policy, tokenizer


def ray_rollout_workers(
    model: Any,
    tokenizer: Any,
    env_id: str,
    workers: int,
    env_kwargs: dict[str, Any],
    threads: int,
    address: str | None = None,
    precision: str = "auto",
    share_prefix: bool = True,
) -> RayRolloutWorkers:
    """Rollout actors for GRPO, each with a CPU copy of ``model`` (re-synced by the trainer every step),
    ``threads`` torch threads and as many CPUs reserved."""
    import copy
    import functools

    factory = functools.partial(
        hf_policy_on_cpu, copy.deepcopy(model).cpu(), tokenizer, threads, precision, share_prefix
    )
    return RayRolloutWorkers(
        factory,
        env_id,
        workers=workers,
        env_kwargs=env_kwargs,
        address=address,
        cpus_per_worker=threads,
    )
