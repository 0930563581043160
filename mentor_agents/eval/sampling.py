"""Which tasks ``mentor eval --episodes N`` plays: a seeded sample stratified over the task families.

Taking the first N tasks of a split measures whatever the file happens to start with (only BFCL's
``simple`` category, only Calculator in Mixed, only the first OOD axis). Instead the N tasks are
allocated over strata in proportion to their size, with every stratum getting at least one task when
N allows, in three levels:

1. the *domain* (Mixed blends several), so a blend is not read as its first domain;
2. the *group* inside the domain: the BFCL category (``category:<c>`` tag) or the OOD axis
   (``Task.axis``), so every category and axis a report breaks down by is present;
3. the *template* (``Task.template``) inside each group.

Within a cell the tasks are a seeded random sample; the chosen tasks keep the split's order. Everything
derives from ``seed`` and the stratum names (sha256), never from Python's salted ``hash``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

METHOD = "stratified: domain, then BFCL category or OOD axis, then template; proportional, >= 1 per stratum"


def category(task: Any) -> str | None:
    """The BFCL category of a task (its ``category:<c>`` tag), or None."""
    return next((tag.split(":", 1)[1] for tag in task.tags if tag.startswith("category:")), None)


def group_of(task: Any) -> str:
    """The first-level stratum: ``<domain>/category:<c>``, ``<domain>/axis:<a>`` or ``<domain>``."""
    if (name := category(task)) is not None:
        return f"{task.domain}/category:{name}"
    if task.axis:
        return f"{task.domain}/axis:{task.axis}"
    return task.domain


def stratum_of(task: Any) -> str:
    """The full stratum (group and template) a task is drawn from."""
    return f"{group_of(task)}|{task.template or '-'}"


def allocate(sizes: dict[str, int], n: int, seed: str) -> dict[str, int]:
    """Split ``n`` draws over strata of the given sizes: proportional, at least one each when ``n`` allows.

    Largest-remainder rounding; ties broken by a seeded order so no stratum name is favoured.
    """
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    order = sorted(sizes, key=lambda name: _digest(seed, name))
    out = dict.fromkeys(sizes, 0)
    free = dict(sizes)
    if n >= len(sizes):  # one each first, the rest in proportion to what is left
        out = dict.fromkeys(sizes, 1)
        free = {name: size - 1 for name, size in sizes.items()}
        n -= len(sizes)
    pool = sum(free.values())
    if n == 0 or pool == 0:
        return out
    quotas = {name: n * free[name] / pool for name in order}
    for name in order:
        out[name] += int(quotas[name])
    left = n - sum(int(q) for q in quotas.values())
    by_remainder = sorted(order, key=lambda name: -(quotas[name] - int(quotas[name])))  # stable: seeded ties
    for name in by_remainder[:left]:
        out[name] += 1
    return out


@dataclass(frozen=True)
class Sample:
    """The chosen tasks and, per stratum, how many were drawn out of how many."""

    tasks: list[Any]
    strata: dict[str, list[int]]
    """``stratum -> [drawn, population]``."""


def stratified_sample(tasks: Sequence[Any], n: int | None, seed: int, where: str = "") -> Sample:
    """``n`` tasks of ``tasks`` (all when ``n`` is None or not smaller), stratified as the module says.

    ``where`` (the env and split) makes the draws of different slots independent.
    """
    cells: dict[str, dict[str, dict[str, list[int]]]] = {}
    for index, task in enumerate(tasks):
        groups = cells.setdefault(task.domain, {})
        groups.setdefault(group_of(task), {}).setdefault(task.template or "-", []).append(index)
    if n is None or n >= len(tasks):
        population = {
            f"{group}|{template}": [len(ids), len(ids)]
            for groups in cells.values()
            for group, templates in groups.items()
            for template, ids in templates.items()
        }
        return Sample(list(tasks), dict(sorted(population.items())))
    base = f"{seed}:{where}"
    per_domain = allocate({d: _size(groups) for d, groups in cells.items()}, n, base)
    chosen: list[int] = []
    drawn: dict[str, list[int]] = {}
    for domain, groups in cells.items():
        per_group = allocate({g: _size({g: t}) for g, t in groups.items()}, per_domain[domain], f"{base}:{domain}")
        for group, templates in groups.items():
            per_template = allocate({t: len(ids) for t, ids in templates.items()}, per_group[group], f"{base}:{group}")
            for template, ids in templates.items():
                k = per_template[template]
                rng = random.Random(int(_digest(base, group, template)[:16], 16))
                chosen += rng.sample(ids, k)
                drawn[f"{group}|{template}"] = [k, len(ids)]
    return Sample([tasks[i] for i in sorted(chosen)], dict(sorted(drawn.items())))


def _size(groups: dict[str, dict[str, list[int]]]) -> int:
    return sum(len(ids) for templates in groups.values() for ids in templates.values())


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
