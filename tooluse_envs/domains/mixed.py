"""Mixed: episodes drawn across the multi-turn domains (``tooluse/Mixed-v0``).

Each reset first draws a domain by weight, then a task of that domain, so a policy trains or is
evaluated on a blend without one large domain drowning the others. Every task keeps its own domain's
tools, instructions, session and checker; this module only routes.
"""

from __future__ import annotations

import numpy as np

from tooluse_envs import registry
from tooluse_envs.domain import Domain, Session, make_domain
from tooluse_envs.errors import ConfigError
from tooluse_envs.tasks import Task
from tooluse_envs.tools import Tool

MULTI_TURN_DOMAINS = registry.mixable_domains()  # derived alias for older imports; MixedDomain asks the registry


class MixedDomain(Domain):
    """A weighted blend of other domains.

    Args:
        weights: ``{domain: weight}``; default equal weights over the registry's mixable domains
            (``tooluse_envs.registry.mixable_domains()``).
        sandbox: backend for the Code domain.
    """

    name = "mixed"

    def __init__(self, weights: dict[str, float] | None = None, sandbox: str = "auto") -> None:
        mixable = registry.mixable_domains()
        weights = dict(weights) if weights is not None else dict.fromkeys(mixable, 1.0)
        unknown = set(weights) - set(mixable)
        if unknown or not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ConfigError(
                f"weights must map some of {', '.join(mixable)} to non-negative numbers with a positive "
                f"sum; got {weights}"
            )
        self.weights = {name: w for name, w in weights.items() if w > 0}
        self.parts = {name: make_domain(name, sandbox=sandbox) for name in self.weights}
        self._groups: tuple[int, list[str], np.ndarray, dict[str, list[Task]]] | None = None

    def tools(self) -> dict[str, Tool]:
        merged: dict[str, Tool] = {}
        for part in self.parts.values():
            merged.update(part.tools())
        return merged

    def task_tools(self, task: Task) -> dict[str, Tool]:
        return self.parts[task.domain].task_tools(task)

    def instructions_for(self, task: Task) -> str:
        return self.parts[task.domain].instructions_for(task)

    def load(self, split: str) -> list[Task]:
        return [task for part in self.parts.values() for task in part.load(split)]

    def generate(self, split: str) -> list[Task]:
        """Mixed owns no task files: its tasks are its parts' tasks."""
        return self.load(split)

    def pick(self, tasks: list[Task], rng: np.random.Generator) -> Task:
        if self._groups is None or self._groups[0] != id(tasks):
            by_domain: dict[str, list[Task]] = {}
            for task in tasks:
                by_domain.setdefault(task.domain, []).append(task)
            names = [name for name in self.weights if by_domain.get(name)]
            probs = np.array([self.weights[name] for name in names], dtype=float)
            self._groups = (id(tasks), names, probs / probs.sum(), by_domain)
        _, names, probs, by_domain = self._groups
        group = by_domain[names[int(rng.choice(len(names), p=probs))]]
        return group[int(rng.integers(len(group)))]

    def open(self, task: Task) -> Session:
        return self.parts[task.domain].open(task)

    def close(self) -> None:
        for part in self.parts.values():
            part.close()


DOMAIN_CLASS = MixedDomain
