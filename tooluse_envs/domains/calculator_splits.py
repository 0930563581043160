"""The Calculator splits: which templates, numbers and tools each split (and each OOD axis) draws.

``train`` and ``test_id`` draw the in-domain templates with in-domain numbers and the 12 tools.
``test_ood`` is the union of five axes, each changing one thing relative to that, so a failure can be
attributed: ``unseen_template`` (new problems), ``longer_chain`` (in-domain situations needing 4–6
steps), ``magnitude`` (in-domain templates, larger plausible numbers), ``distractor_tools`` (in-domain
problems with irrelevant extra tools offered) and ``unseen_tool`` (problems whose teacher uses a tool
no training reference uses). No test task repeats a train question or computation (calls, arguments
and answer), and test_ood repeats none of test_id's either.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from functools import cache

from tooluse_envs.domains.calculator_chain import Numbers, Solved, solve
from tooluse_envs.domains.calculator_ood import LONGER_CHAIN_TEMPLATES, UNSEEN_TEMPLATES, UNSEEN_TOOL_TEMPLATES
from tooluse_envs.domains.calculator_problems import ID_TEMPLATES, MAGNITUDE_TEMPLATES, Template
from tooluse_envs.domains.calculator_tools import CORE_TOOLS, DISTRACTOR_TOOLS, all_tools
from tooluse_envs.errors import TaskError
from tooluse_envs.task_stats import computation_key
from tooluse_envs.tasks import Task

ID_SIZES = {"train": 2000, "test_id": 300}
SPLIT_SEEDS = {"train": 1001, "test_id": 2002, "test_ood": 3003}
TASKS_PER_AXIS = 120
DISTRACTORS_PER_TASK = 3
INSTRUCTION = " Use the tools for every calculation and give the final answer in \\boxed{}."


@dataclass(frozen=True)
class Axis:
    """One out-of-domain axis: the templates it draws and the one thing it changes."""

    name: str
    templates: tuple[Template, ...]
    large: bool = False  # numbers from the larger range
    distractors: bool = False  # irrelevant extra tools offered


OOD_AXES = (
    Axis("unseen_template", UNSEEN_TEMPLATES),
    Axis("longer_chain", LONGER_CHAIN_TEMPLATES),
    Axis("magnitude", MAGNITUDE_TEMPLATES, large=True),
    Axis("distractor_tools", ID_TEMPLATES, distractors=True),
    Axis("unseen_tool", UNSEEN_TOOL_TEMPLATES),
)


def _task(
    split: str, index: int, template: str, solved: Solved, extra_tools: tuple[str, ...], axis: str | None
) -> Task:
    core = [fn.__name__ for fn in CORE_TOOLS]
    tools = core + sorted(set(solved.problem.tools) | set(extra_tools))
    tags = (template, f"steps:{len(solved.reference.tool_calls)}") + ((f"axis:{axis}",) if axis else ())
    return Task(
        id=f"calculator/{split}/{index:05d}",
        domain="calculator",
        split=split,
        question=solved.problem.question + INSTRUCTION,
        tools=tuple(tools),
        expected={"kind": "number", "answer": solved.answer, "decimals": solved.problem.decimals},
        reference=solved.reference,
        tags=tags,
    )


def _draw(split: str, axis: Axis | None, count: int, seed: int, taken: set[str]) -> list[Task]:
    """``count`` tasks from the axis's templates in turn, none sharing a question or computation with ``taken``."""
    rng = random.Random(seed)
    numbers = Numbers(rng, large=bool(axis and axis.large))
    templates = axis.templates if axis else ID_TEMPLATES
    names = [fn.__name__ for fn in DISTRACTOR_TOOLS]
    tasks: list[Task] = []
    misses = 0
    while len(tasks) < count:
        template = templates[len(tasks) % len(templates)]
        solved = solve(template(numbers, rng), all_tools())
        extra = tuple(rng.sample(names, DISTRACTORS_PER_TASK)) if axis and axis.distractors else ()
        if solved is not None:
            task = _task(split, len(tasks), template.__name__[3:], solved, extra, axis.name if axis else None)
            keys = {task.question, computation_key(task)}
            if not keys & taken:
                taken |= keys
                tasks.append(task)
                continue
        misses += 1
        if misses > 50 * count + 10_000:
            raise TaskError(f"{template.__name__} cannot produce {count} distinct exact problems")
    return tasks


def _taken_by(splits: tuple[str, ...]) -> set[str]:
    """Questions and computation keys of earlier splits, which later splits may not repeat."""
    return {key for split in splits for task in _generate(split) for key in (task.question, computation_key(task))}


def generate_split(split: str) -> list[Task]:
    """The tasks of one split (deterministic; test splits exclude the earlier splits' problems)."""
    return list(_generate(split))


@cache
def _generate(split: str) -> tuple[Task, ...]:
    if split == "train":
        return tuple(_draw(split, None, ID_SIZES[split], SPLIT_SEEDS[split], set()))
    if split == "test_id":
        return tuple(_draw(split, None, ID_SIZES[split], SPLIT_SEEDS[split], _taken_by(("train",))))
    if split != "test_ood":
        raise TaskError(f"unknown split {split!r}")
    taken = _taken_by(("train", "test_id"))
    per_axis = [
        _draw(split, axis, TASKS_PER_AXIS, SPLIT_SEEDS[split] + 10 * i, taken) for i, axis in enumerate(OOD_AXES)
    ]
    # interleave the axes, so any prefix of the file covers all of them
    tasks = [task for group in zip(*per_axis, strict=True) for task in group]
    return tuple(replace(task, id=f"calculator/{split}/{i:05d}") for i, task in enumerate(tasks))
