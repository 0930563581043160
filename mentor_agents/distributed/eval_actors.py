"""Ray actors that play ``mentor eval`` units: the same agent and envs as a local run, rows back to the driver."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mentor_agents.distributed import faults
from mentor_agents.distributed.cluster import ActorPool, check_capacity, close_envs, ensure_ray, set_torch_threads


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
    torch_threads: int | None = None
    """Torch CPU threads in each actor (the local run's count, for identical results); None: Ray's."""


class EvalWorker:
    """One evaluation actor: an agent and, per slot, the envs it plays on."""

    def __init__(self, config: Any, crash_marker: str | None = None, torch_threads: int | None = None) -> None:
        from mentor_agents.agents import AgentSpec, build_agent

        set_torch_threads(torch_threads)
        self.config = config
        self.crash_marker = crash_marker
        self.agent = build_agent(AgentSpec.parse(config.agent), config.options, seed=config.seed)
        self.envs: dict[int, list[Any]] = {}

    def play(self, unit: Any) -> list[dict]:
        from mentor_agents.eval.slots import make_env

        if unit.slot_index not in self.envs:
            n = 1 if self.agent.independent else self.agent.batch_size
            self.envs[unit.slot_index] = [make_env(unit.slot, self.config) for _ in range(n)]
        rows = []
        for i, row in enumerate(self.agent.play(self.envs[unit.slot_index], list(unit.requests))):
            rows.append(row)
            if i == 0 and faults.claim(self.crash_marker):
                os._exit(1)  # simulate a node loss mid-unit: the driver must replace us and rerun the unit
        return rows

    def close(self) -> None:
        close_envs([env for envs in self.envs.values() for env in envs])


def play_on_ray(units: list[Any], config: Any, ray_cfg: RayEvalConfig) -> Iterator[dict]:
    """Rows of every unit, in completion order; dead actors are replaced and their unit re-run."""
    ray = ensure_ray(ray_cfg.address)
    workers = min(ray_cfg.workers, len(units))
    check_capacity(ray, workers, ray_cfg.cpus_per_worker, fixed_cluster=ray_cfg.address is None)
    remote = ray.remote(num_cpus=ray_cfg.cpus_per_worker, max_restarts=0, max_task_retries=0)(EvalWorker)

    def spawn() -> Any:
        return remote.remote(config, faults.CRASH_MARKER, ray_cfg.torch_threads)

    pool = ActorPool(ray, spawn, workers, ray_cfg.max_unit_retries)
    try:
        for _, rows in pool.run(units, lambda actor, unit: actor.play.remote(unit)):
            yield from rows
    finally:
        pool.shutdown()
