"""Measurements of a task set that say whether it can tell distillation methods apart.

A teacher-matching reward (MENTOR's m) only carries signal when the teacher's tool choice varies with
the problem and other correct strategies exist; a test split only measures generalisation when it does
not repeat training computations. ``make tasks`` prints these numbers and the tests hold them to targets.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tooluse_envs.tasks import Reference, Task


def tool_set(reference: Reference) -> frozenset[str]:
    return frozenset(call.name for call in reference.tool_calls)


def computation_key(task: Task) -> str:
    """What a task computes: its context, the teacher's calls with their arguments, and the answer.

    Two tasks with the same key are the same exercise whatever their wording, so a test split may not
    share one with train.
    """
    calls = [[call.name, call.arguments] for call in task.reference.tool_calls]
    answer = task.expected.get("answer", task.expected.get("check"))
    return json.dumps([task.context, calls, answer], sort_keys=True, default=str)


@dataclass(frozen=True)
class StrategyStats:
    """How varied the teacher's strategies are in one set of tasks."""

    tasks: int
    teacher_tool_sets: int  # distinct teacher tool-name sets in the whole set
    templates: int
    templates_with_varied_teacher: int  # templates whose tasks have ≥ 2 distinct teacher tool sets
    mean_tool_sets_per_template: float
    with_alternative: float  # share of tasks with an alternative whose tool set differs from the teacher's

    def as_row(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "teacher tool sets": self.teacher_tool_sets,
            "templates (varied)": f"{self.templates} ({self.templates_with_varied_teacher})",
            "sets/template": round(self.mean_tool_sets_per_template, 2),
            "alt. other set": f"{self.with_alternative:.0%}",
        }


def strategy_stats(tasks: Iterable[Task]) -> StrategyStats:
    tasks = list(tasks)
    per_template: dict[str, set[frozenset[str]]] = defaultdict(set)
    for task in tasks:
        per_template[task.template or task.id].add(tool_set(task.reference))
    differing = sum(
        any(tool_set(alt) != tool_set(task.reference) for alt in task.reference.alternatives) for task in tasks
    )
    sizes = [len(sets) for sets in per_template.values()]
    return StrategyStats(
        tasks=len(tasks),
        teacher_tool_sets=len({tool_set(task.reference) for task in tasks}),
        templates=len(per_template),
        templates_with_varied_teacher=sum(size > 1 for size in sizes),
        mean_tool_sets_per_template=sum(sizes) / max(1, len(sizes)),
        with_alternative=differing / max(1, len(tasks)),
    )


def axis_counts(tasks: Iterable[Task]) -> Counter[str]:
    """Out-of-domain tasks per named axis (untagged tasks count under ``"-"``)."""
    return Counter(task.axis or "-" for task in tasks)


def leaked_computations(train: Iterable[Task], test: Iterable[Task]) -> list[str]:
    """Ids of test tasks that compute exactly what some train task computes."""
    seen = {computation_key(task) for task in train}
    return [task.id for task in test if computation_key(task) in seen]
