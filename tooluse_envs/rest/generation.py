"""Generating the REST splits: templates run against live episodes, one run per strategy.

Why it is built this way:
- Every task's answer is read off real responses (``Api``), and every strategy a template knows is run
  in its own fresh episode, so each alternative in ``reference.alternatives`` is a trajectory that was
  actually executed and checked, not a guess.
- ``train`` and ``test_id`` are split by a hash of the task's computation (context, teacher calls,
  answer; ``task_stats.computation_key``), so two draws that compute the same thing always land in the
  same split: no ``test_id`` task repeats a train computation, whatever template produced it. Wording
  and teacher choice are seeded from the task's parameters (``task_seed``), so equal parameters give
  one task with one computation.
- ``test_ood`` is the union of named axes, each filled from templates that change only that one thing.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tooluse_envs.domain import check_answer
from tooluse_envs.errors import TaskError
from tooluse_envs.rest import services
from tooluse_envs.rest.checks import check_state, services_of
from tooluse_envs.rest.client import RestClient
from tooluse_envs.rest.openapi import Operation
from tooluse_envs.rest.templates import PARAPHRASE, Api, Draft, NotApplicable, Params, Template, TemplateError
from tooluse_envs.task_stats import computation_key
from tooluse_envs.tasks import Reference, ReferenceCall, Task
from tooluse_envs.tools import Tool

SPLIT_SIZES = {"train": 2000, "test_id": 300, "test_ood": 360}
SPLIT_SEEDS = {"train": 4001, "test_id": 5002, "test_ood": 6003}
TEST_ID_SHARE = 8  # one computation in 8 belongs to test_id, the rest to train
MAX_MISSES = 400  # draws in a row a template may waste before it counts as exhausted for the split
OOD_AXES = ("unseen_service", "unseen_template", "paraphrase")
"""unseen_service: tasks on the flights and library services, never offered in training.
unseen_template: new kinds of task (page walking, 409 recovery, state changes) on the seen services.
paraphrase: in-domain templates and computations, only the question worded differently."""


def template_modules() -> list[Any]:
    return [importlib.import_module(f"tooluse_envs.rest.templates.{name}") for name in services.ALL]


def axis_templates(split: str) -> dict[str | None, list[Template]]:
    """The templates of a split, grouped by the out-of-domain axis they belong to (None in-domain)."""
    modules = template_modules()
    in_domain = [t for m in modules for t in m.ID]
    if split != "test_ood":
        return {None: in_domain}
    ood = [t for m in modules for t in m.OOD]
    return {
        "unseen_service": [t for t in ood if set(t.services) & set(services.OUT_OF_DOMAIN)],
        "unseen_template": [t for t in ood if not set(t.services) & set(services.OUT_OF_DOMAIN)],
        "paraphrase": in_domain,
    }


def split_quota(split: str) -> dict[str | None, int]:
    if split != "test_ood":
        return {None: SPLIT_SIZES[split]}
    per_axis = SPLIT_SIZES[split] // len(OOD_AXES)
    return dict.fromkeys(OOD_AXES, per_axis)


def in_split(task: Task, split: str) -> bool:
    """train/test_id membership from the computation, so equal computations share a split."""
    if split == "test_ood":
        return True
    test = hashlib.sha256(computation_key(task).encode()).digest()[0] % TEST_ID_SHARE == 0
    return test == (split == "test_id")


def task_seed(key: str) -> int:
    """The seed of everything a task's runs decide (wording, teacher choice), from its identity alone.

    Equal parameters thus always give the same task, whichever split draws them, so the computation
    hash sends them to the same split.
    """
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


@dataclass
class Run:
    """One executed strategy: the task it produced and the calls it made."""

    strategy: str
    draft: Draft
    calls: tuple[ReferenceCall, ...]

    def reference(self) -> Reference:
        return Reference(self.calls, self.draft.answer, strategy=self.strategy)


class Generator:
    """Fills one split from its templates, deterministically from the split's seed."""

    def __init__(
        self,
        client: RestClient,
        operations: dict[str, Operation],
        tools: dict[str, Tool],
        offered: Callable[[tuple[str, ...]], tuple[str, ...]],
    ) -> None:
        """``offered`` names the tools a task on some services offers (``domains.rest.service_tools``)."""
        self.client, self.operations, self.tools, self.offered = client, operations, tools, offered

    def generate(self, split: str) -> list[Task]:
        rng, tasks = random.Random(SPLIT_SEEDS[split]), []
        for axis, templates in axis_templates(split).items():
            tasks += self._fill(split, axis, list(templates), split_quota(split)[axis], rng)
        return [replace(task, id=f"rest/{split}/{n:05d}", split=split) for n, task in enumerate(tasks)]

    def _fill(self, split: str, axis: str | None, active: list[Template], count: int, rng: random.Random) -> list:
        """Run the templates round-robin until ``count`` tasks; a template that runs dry drops out."""
        seen: set[str] = set()
        out: list[Task] = []
        turn = 0
        while len(out) < count:
            if not active:
                raise TaskError(f"rest/{split} {axis or ''}: the templates ran out of distinct tasks at {len(out)}")
            template = active[turn % len(active)]
            task = self._draw(template, split, axis, rng, seen)
            if task is None:
                active.remove(template)
                continue
            turn += 1
            out.append(task)
        return out

    def _draw(
        self, template: Template, split: str, axis: str | None, rng: random.Random, seen: set[str]
    ) -> Task | None:
        """Draw until the template yields a new task of this split; None once it seems exhausted."""
        for _ in range(MAX_MISSES):
            params = template.draw(rng)
            if axis == PARAPHRASE:
                params = {**params, "wording": PARAPHRASE}
            key = f"{template.name}:{json.dumps(params, sort_keys=True)}"
            if key in seen:
                continue
            seen.add(key)
            task = self._make(template, params, task_seed(key), split, axis)
            if task is not None:
                return task
        return None

    def _make(self, template: Template, params: Params, seed: int, split: str, axis: str | None) -> Task | None:
        """The teacher's run first (it decides the split), then every other strategy as an alternative."""
        teacher = template.teacher_strategy(params, random.Random(seed ^ 0x7EAC4E5))
        if teacher not in template.strategies:
            raise TemplateError(f"{template.name}: teacher chose unknown strategy {teacher!r}")
        first = self._run(template, params, seed, teacher)
        if first is None:
            return None
        if isinstance(first, NotApplicable):
            raise TemplateError(f"{template.name}: the teacher's strategy {teacher!r} does not apply to {params}")
        task = self._task(template, first, [], params, axis)
        if not in_split(task, split):
            return None
        alternatives = []
        for strategy in template.strategies:
            if strategy == teacher:
                continue
            run = self._run(template, params, seed, strategy)
            if isinstance(run, NotApplicable):
                continue
            if run is None or (run.draft.question, run.draft.expected) != (first.draft.question, first.draft.expected):
                raise TemplateError(f"{template.name}: strategy {strategy!r} disagrees with {teacher!r} on {params}")
            alternatives.append(run)
        return self._task(template, first, alternatives, params, axis)

    def _run(self, template: Template, params: Params, seed: int, strategy: str) -> Run | NotApplicable | None:
        """One strategy in a fresh episode, verified; the same seed gives every strategy the same wording."""
        episode = self.client.open_episode()
        try:
            api = Api(self.client, self.operations, self.tools, episode, strategy)
            try:
                draft = template.run(api, params, random.Random(seed))
            except NotApplicable as exc:
                return exc
            if draft is None:
                return None
            verify(self.client, draft, api)
        finally:
            self.client.close_episode(episode)
        return Run(strategy, draft, tuple(api.calls))

    def _task(self, template: Template, teacher: Run, others: list[Run], params: Params, axis: str | None) -> Task:
        draft = teacher.draft
        steps = len(teacher.calls)
        tags = (template.name, *template.services, *draft.tags, f"steps:{steps}")
        reference = replace(teacher.reference(), alternatives=tuple(run.reference() for run in others))
        return Task(
            id="",
            domain="rest",
            split="",
            question=draft.question,
            tools=self.offered(template.services),
            expected=draft.expected,
            reference=reference,
            tags=tags + ((f"axis:{axis}",) if axis else ()),
            provenance={"generator": "tooluse_envs.rest", "template": template.name, "params": params},
        )


def verify(client: RestClient, draft: Draft, api: Api) -> None:
    """The reference must pass its own check, and a state task must not already hold on the seed data."""
    expected = draft.expected
    if expected["kind"] != "state":
        if not check_answer(expected, draft.answer).correct:
            raise TaskError(f"reference answer {draft.answer!r} fails its own check: {draft.question}")
        return
    names = services_of(expected["check"])
    after = check_state(expected["check"], api.state(names))
    if not after.correct:
        raise TaskError(f"reference run fails its state check {after.details}: {draft.question}")
    fresh = client.open_episode()
    try:
        if check_state(expected["check"], client.state(fresh, names)).correct:
            raise TaskError(f"state check already holds before any call: {draft.question}")
    finally:
        client.close_episode(fresh)
