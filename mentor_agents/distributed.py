"""Ray actors for evaluation episodes and rollout collection: the same code path as local runs.

Each actor builds its own agent (its own policy copy: model agents load the preset in the actor) and
its own envs, then plays whole units of work the driver hands it. Only the driver writes the episodes
file, so a unit replayed after an actor died can never be counted twice: the log deduplicates by
episode key. Because every episode's seed comes from its key (``evaluate.derive_seed``), rows are the
same whichever actor played them, and the same as a local run.

Ray is optional: it is imported here, lazily, with a clear error when it is missing.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "--ray needs Ray: pip install 'tooluse-mentor[ray]' (or pip install 'ray[default]')"
        ) from exc
    return ray


@dataclass(frozen=True)
class RayEvalConfig:
    """Where and how wide to run."""

    address: str | None = None
    """An existing cluster (``ray://...`` or ``auto``); None starts (or reuses) a local one."""
    workers: int = 2
    """Actors, each with its own envs and policy copy."""
    cpus_per_worker: float = 1.0
    """CPUs Ray reserves per actor."""
    max_unit_retries: int = 3
    """How often a unit is re-run on a fresh actor after the one running it died."""
    crash_marker: str | None = None
    """Testing hook: the first actor that finds this file deletes it and dies mid-unit."""


def ensure_ray(address: str | None) -> Any:
    """Connect to ``address`` or start a local cluster (unless the caller already did)."""
    ray = import_ray()
    if not ray.is_initialized():
        root = str(Path(__file__).resolve().parent.parent)
        env = {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        ray.init(address=address, include_dashboard=False, runtime_env={"env_vars": env}, log_to_driver=False)
    return ray


class EvalWorker:
    """One evaluation actor: an agent and, per slot, the envs it plays on."""

    def __init__(self, config: Any, crash_marker: str | None = None) -> None:
        from mentor_agents.agents import AgentSpec, build_agent

        self.config = config
        self.crash_marker = crash_marker
        self.agent = build_agent(AgentSpec.parse(config.agent), config.options, seed=config.seed)
        self.envs: dict[int, list[Any]] = {}

    def play(self, unit: Any) -> list[dict]:
        from mentor_agents.evaluate import make_env

        if unit.slot_index not in self.envs:
            n = 1 if self.agent.independent else self.agent.batch_size
            self.envs[unit.slot_index] = [make_env(unit.slot, self.config) for _ in range(n)]
        rows = []
        for i, row in enumerate(self.agent.play(self.envs[unit.slot_index], list(unit.requests))):
            rows.append(row)
            if i == 0 and self.crash_marker and _claim(self.crash_marker):
                os._exit(1)  # simulate a node loss mid-unit: the driver must replace us and rerun the unit
        return rows

    def pid(self) -> int:
        return os.getpid()


def _claim(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def play_on_ray(units: list[Any], config: Any, ray_cfg: RayEvalConfig) -> Iterator[dict]:
    """Rows of every unit, in completion order; dead actors are replaced and their unit re-run."""
    ray = ensure_ray(ray_cfg.address)
    from ray.exceptions import RayActorError

    remote = ray.remote(num_cpus=ray_cfg.cpus_per_worker, max_restarts=0, max_task_retries=0)(EvalWorker)

    def spawn() -> Any:
        return remote.remote(config, ray_cfg.crash_marker)

    queue: deque[tuple[Any, int]] = deque((u, 0) for u in units)
    idle = [spawn() for _ in range(min(ray_cfg.workers, len(units)))]
    running: dict[Any, tuple[Any, Any, int]] = {}
    try:
        while queue or running:
            while queue and idle:
                actor = idle.pop()
                unit, tries = queue.popleft()
                running[actor.play.remote(unit)] = (actor, unit, tries)
            done, _ = ray.wait(list(running), num_returns=1)
            actor, unit, tries = running.pop(done[0])
            try:
                rows = ray.get(done[0])
            except RayActorError:
                if tries >= ray_cfg.max_unit_retries:
                    raise
                ray.kill(actor)
                queue.appendleft((unit, tries + 1))
                idle.append(spawn())
                continue
            idle.append(actor)
            yield from rows
    finally:
        for actor in idle + [a for a, _, _ in running.values()]:
            ray.kill(actor)


class RolloutWorker:
    """One rollout actor: ``n_envs`` envs of one id and a policy built by ``policy_factory``."""

    def __init__(self, policy_factory: Any, env_id: str, n_envs: int, env_kwargs: dict[str, Any]) -> None:
        from mentor_agents.rollout import make_envs

        self.policy, self.tokenizer = policy_factory()
        self.envs = make_envs(env_id, n_envs, **env_kwargs)

    def rollout(self, task_ids: list[str], sampling: Any, seed: int | None) -> list[Any]:
        from mentor_agents.rollout import rollout

        return rollout(self.envs[: len(task_ids)], self.policy, self.tokenizer, sampling, task_ids, seed)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Sync the actor's policy copy with the learner's weights (HF policies)."""
        self.policy.model.load_state_dict(state)


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
    """GRPO rollout collection on Ray: ``rollout`` splits a batch of task ids across actors.

    ``policy_factory`` is a picklable callable returning ``(policy, tokenizer)``; each actor calls it
    once. Chunk ``i`` is seeded ``seed + 1000 * i``, so a batch is reproducible for a fixed worker count.
    """

    def __init__(
        self,
        policy_factory: Any,
        env_id: str,
        workers: int = 2,
        envs_per_worker: int = 8,
        env_kwargs: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> None:
        ray = ensure_ray(address)
        remote = ray.remote(num_cpus=1)(RolloutWorker)
        self._ray = ray
        self.envs_per_worker = envs_per_worker
        self.actors = [remote.remote(policy_factory, env_id, envs_per_worker, env_kwargs or {}) for _ in range(workers)]

    def rollout(self, task_ids: list[str], sampling: Any, seed: int | None = None) -> list[Any]:
        """Trajectories in the order of ``task_ids``."""
        size = -(-len(task_ids) // len(self.actors))
        chunks = [task_ids[i : i + size] for i in range(0, len(task_ids), size)]
        if any(len(c) > self.envs_per_worker for c in chunks):
            raise ValueError(f"{len(task_ids)} tasks need more than {self.envs_per_worker} envs per worker")
        refs = [
            actor.rollout.remote(chunk, sampling, None if seed is None else seed + 1000 * i)
            for i, (actor, chunk) in enumerate(zip(self.actors, chunks, strict=False))
        ]
        return [traj for part in self._ray.get(refs) for traj in part]

    def sync_weights(self, model: Any) -> None:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        ref = self._ray.put(state)
        self._ray.get([a.load_state_dict.remote(ref) for a in self.actors])

    def shutdown(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)


def hf_policy_on_cpu(model: Any, tokenizer: Any) -> tuple[Any, Any]:
    """A ``policy_factory`` for ``RayRolloutWorkers``: an ``HFPolicy`` over a copy of the learner's model."""
    import torch

    from mentor_agents.policies.hf import HFPolicy

    return HFPolicy(model, tokenizer, device="cpu", dtype=torch.float32), tokenizer


def ray_rollout_workers(
    model: Any, tokenizer: Any, env_id: str, workers: int, batch: int, env_kwargs: dict[str, Any]
) -> RayRolloutWorkers:
    """Rollout actors for GRPO, each with a copy of ``model`` (synced by the trainer every step)."""
    import copy
    import functools

    factory = functools.partial(hf_policy_on_cpu, copy.deepcopy(model).cpu(), tokenizer)
    per_worker = -(-batch // workers)
    return RayRolloutWorkers(factory, env_id, workers=workers, envs_per_worker=per_worker, env_kwargs=env_kwargs)
