"""Ray actors for evaluation episodes and GRPO rollout collection: the same code path as local runs.

Each actor owns its envs (and so its sandbox pool) and its policy copy, and plays whole units of work
the driver hands it: an evaluation ``Unit`` or a ``RolloutChunk``. A unit's result depends only on the
unit (its seeds come from its key, its batch is fixed), so it is the same whichever actor plays it, the
same as a local run, and the same when replayed after its actor died. ``ActorPool`` does the replaying:
an actor that dies is killed, a fresh one takes its place, and its unit goes back to the queue. Only
the driver writes results, so a replayed unit is never counted twice.

Model actors compute with a fixed torch thread count and reserve that many CPUs: CPU kernels split their
reductions by thread count, so the last bits of the logits (and now and then a sampled token) differ
between thread counts, and the local run must use the same count. Reserving the CPUs matters as much:
two actors of two threads each on two cores spin against each other and ran ~10x slower here. Identity
also assumes the same device type and library versions on every node.

Ray is optional: it is imported here, lazily, with a clear error when it is missing.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class RayNotInstalled(RuntimeError):
    """``--ray`` without the ``[ray]`` extra."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RayNotInstalled(
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
    torch_threads: int | None = None
    """Torch CPU threads in each actor (the local run's count, for identical results); None: Ray's."""


def set_torch_threads(threads: int | None) -> None:
    """Match the driver's torch thread count (a no-op for None, and without importing torch for it)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


_connected_address: str | None = None
"""The address ``ensure_ray`` connected with (so asking again for the same one is not warned about)."""


def ensure_ray(address: str | None) -> Any:
    """Connect to ``address`` or start a local cluster (unless the caller already did).

    A local cluster's workers get this checkout on their ``PYTHONPATH``. A remote cluster's nodes must
    have the package installed themselves (``pip install tooluse-mentor``), and ``hf:`` model paths must
    exist on them: this machine's paths mean nothing there.
    """
    global _connected_address
    ray = import_ray()
    if ray.is_initialized():
        if address is not None and address != _connected_address:
            warnings.warn(f"Ray is already initialised in this process; ignoring address {address!r}", stacklevel=2)
        return ray
    _connected_address = address
    if address is None:
        root = str(Path(__file__).resolve().parent.parent)
        env = {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        ray.init(include_dashboard=False, runtime_env={"env_vars": env}, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    return ray


def check_capacity(ray: Any, workers: int, cpus_per_worker: float, fixed_cluster: bool) -> None:
    """Refuse (on a fixed local cluster) or warn about actors that cannot all be placed: the pool would
    hand units to an actor that never starts and wait for ever."""
    total = ray.cluster_resources().get("CPU", 0)
    if workers * cpus_per_worker <= total + 1e-9:  # total CPUs: other jobs' actors are not accounted for
        return
    message = (
        f"{workers} Ray actors x {cpus_per_worker:g} CPUs exceed the cluster's {total:g} CPUs: each actor "
        f"reserves one CPU per torch thread; use threads={max(1, int(total // workers))} "
        f"(mentor eval --threads, GRPO rollout_threads) or at most {max(1, int(total // cpus_per_worker))} workers"
    )
    if fixed_cluster:
        raise ValueError(message)
    warnings.warn(message + " (waiting for the autoscaler, if any)", stacklevel=3)


class ActorPool:
    """A fixed number of Ray actors, one unit of work each at a time, dead ones replaced.

    ``spawn()`` makes a fresh actor; ``run`` hands units out as actors free up and yields
    ``(unit index, result)`` in completion order. A unit whose actor died is re-run on a fresh actor,
    at most ``max_unit_retries`` times, then the error is raised.
    """

    def __init__(self, ray: Any, spawn: Callable[[], Any], size: int, max_unit_retries: int = 3) -> None:
        self._ray, self._spawn, self.size, self.max_unit_retries = ray, spawn, size, max_unit_retries
        self.idle = [spawn() for _ in range(size)]
        self.replaced = 0
        """Actors replaced after dying, over the pool's life."""

    def run(self, units: Sequence[Any], submit: Callable[[Any, Any], Any]) -> Iterator[tuple[int, Any]]:
        """``submit(actor, unit)`` returns the ``ObjectRef`` of the unit's result."""
        from ray.exceptions import ObjectLostError, RayActorError

        while len(self.idle) < self.size:  # after a run that was abandoned with units in flight
            self.idle.append(self._spawn())
        queue: deque[tuple[int, int]] = deque((i, 0) for i in range(len(units)))
        running: dict[Any, tuple[Any, int, int]] = {}
        try:
            while queue or running:
                while queue and self.idle:
                    actor = self.idle.pop()
                    index, tries = queue.popleft()
                    running[submit(actor, units[index])] = (actor, index, tries)
                done, _ = self._ray.wait(list(running), num_returns=1)
                actor, index, tries = running.pop(done[0])
                try:
                    result = self._ray.get(done[0])
                except RayActorError:  # the actor (or its node) died: replace it, rerun the unit
                    if tries >= self.max_unit_retries:
                        raise
                    self._ray.kill(actor)
                    self.replaced += 1
                    queue.appendleft((index, tries + 1))
                    self.idle.append(self._spawn())
                    continue
                except ObjectLostError:  # the result's node died after the actor finished: rerun the unit
                    self.idle.append(actor)
                    if tries >= self.max_unit_retries:
                        raise
                    queue.appendleft((index, tries + 1))
                    continue
                except BaseException:  # the unit itself failed (a bug, a bad task): the actor is fine
                    self.idle.append(actor)
                    raise
                self.idle.append(actor)
                yield index, result
        finally:
            # A caller that stops early (or an error) must not leave actors busy with stale work. ``close()``
            # would queue behind that work, so they are killed; their bwrap jails die with them and their
            # Docker containers are swept by owner label when the next pool starts on that host.
            for actor, _, _ in running.values():
                self._ray.kill(actor)

    def shutdown(self, close_timeout_s: float = 60.0) -> None:
        """Ask every actor to ``close()`` (envs, sandboxes: ``ray.kill`` would skip their cleanup), then kill it."""
        closing = [actor.close.remote() for actor in self.idle]
        if closing:
            self._ray.wait(closing, num_returns=len(closing), timeout=close_timeout_s)
        for actor in self.idle:
            self._ray.kill(actor)
        self.idle = []


def close_envs(envs: list[Any]) -> None:
    """Close envs and this process's pooled sandboxes (Code-v0 shares one pool per process)."""
    for env in envs:
        env.close()
    code = sys.modules.get("tooluse_envs.domains.code")
    if code is not None:
        code.close_pools()


def _claim(path: str | None) -> bool:
    """True for the one caller that deletes the crash-marker file (the testing hook of both workers)."""
    if not path:
        return False
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


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
        from mentor_agents.evaluate import make_env

        if unit.slot_index not in self.envs:
            n = 1 if self.agent.independent else self.agent.batch_size
            self.envs[unit.slot_index] = [make_env(unit.slot, self.config) for _ in range(n)]
        rows = []
        for i, row in enumerate(self.agent.play(self.envs[unit.slot_index], list(unit.requests))):
            rows.append(row)
            if i == 0 and _claim(self.crash_marker):
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
        return remote.remote(config, ray_cfg.crash_marker, ray_cfg.torch_threads)

    pool = ActorPool(ray, spawn, workers, ray_cfg.max_unit_retries)
    try:
        for _, rows in pool.run(units, lambda actor, unit: actor.play.remote(unit)):
            yield from rows
    finally:
        pool.shutdown()


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

        if _claim(self.crash_marker):
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
        crash_marker: str | None = None,
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
            ray, lambda: remote.remote(policy_factory, env_id, kwargs, crash_marker), workers, max_unit_retries
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


def hf_policy_on_cpu(model: Any, tokenizer: Any, torch_threads: int | None = None) -> tuple[Any, Any]:
    """A ``policy_factory`` for ``RayRolloutWorkers``: an ``HFPolicy`` over a copy of the learner's model."""
    import torch

    from mentor_agents.policies.hf import HFPolicy

    set_torch_threads(torch_threads)
    return HFPolicy(model, tokenizer, device="cpu", dtype=torch.float32), tokenizer


def ray_rollout_workers(
    model: Any,
    tokenizer: Any,
    env_id: str,
    workers: int,
    env_kwargs: dict[str, Any],
    threads: int,
    address: str | None = None,
    crash_marker: str | None = None,
) -> RayRolloutWorkers:
    """Rollout actors for GRPO, each with a CPU copy of ``model`` (re-synced by the trainer every step),
    ``threads`` torch threads and as many CPUs reserved."""
    import copy
    import functools

    factory = functools.partial(hf_policy_on_cpu, copy.deepcopy(model).cpu(), tokenizer, threads)
    return RayRolloutWorkers(
        factory,
        env_id,
        workers=workers,
        env_kwargs=env_kwargs,
        address=address,
        crash_marker=crash_marker,
        cpus_per_worker=threads,
    )
