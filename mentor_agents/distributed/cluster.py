"""Ray plumbing both actor kinds share: connecting, capacity checks, the actor pool that replaces dead actors.

Each actor owns its envs (and so its sandbox pool) and its policy copy, and plays whole units of work
the driver hands it: an evaluation ``Unit`` (``eval_actors``) or a ``RolloutChunk`` (``rollout_actors``).
A unit's result depends only on the unit (its seeds come from its key, its batch is fixed), so it is the
same whichever actor plays it, the same as a local run, and the same when replayed after its actor died.
``ActorPool`` does the replaying: an actor that dies is killed, a fresh one takes its place, and its unit
goes back to the queue. Only the driver writes results, so a replayed unit is never counted twice.

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


def set_torch_threads(threads: int | None) -> None:
    """Match the driver's torch thread count (a no-op for None, and without importing torch for it)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


_connected_address: str | None = None
"""The address ``ensure_ray`` connected with (so asking again for the same one is not warned about)."""


def ensure_ray(address: str | None) -> Any:
    """Connect to ``address`` or start a local cluster (unless the caller already did).

    A local cluster's workers get this checkout on their ``PYTHONPATH``, and the directories of the plugin
    rewards imported so far (``tooluse_envs.rewards.plugin_roots``). A remote cluster's nodes must
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
        from tooluse_envs.rewards import plugin_roots

        root = str(Path(__file__).resolve().parents[2])  # the checkout holding mentor_agents/
        # and the directories of plugin rewards imported here (mentor train --method pkg.module:fn), so that
        # the actors resolve the same spec even when its package is on this process's sys.path only
        paths = (root, *plugin_roots(), os.environ.get("PYTHONPATH", ""))
        env = {"PYTHONPATH": os.pathsep.join(dict.fromkeys(p for p in paths if p))}
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
