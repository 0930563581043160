"""Search: multi-hop questions answered by searching an offline encyclopedia (the MENTOR paper's RAG OOD).

The paper evaluates out of domain on multi-hop QA (Bamboogle, HotpotQA, 2WikiMultihopQA) with a
Wikipedia search tool. Offline and answerable only by reading, ours asks 2–4-hop questions about a
generated fictional world (``search_world``; some 10,000 documents written by ``search_docs``, built in
memory on first use and cached per process) through two tools: ``search`` (BM25; each hit shows its
title and a one-sentence description that states no asked-for fact) and ``open``. The world has
namesakes, near-duplicate titles and conflicting minor facts in secondary documents, so the first hit
is not always the right one and an answer is read only in the opened entry. Answers are checked by
normalised exact match against aliases (yes/no answers: exactly "yes" or "no"); token F1 is reported in
``info["tool_episode"]["check"]["f1"]``.

Splits. ``train`` (200) and ``test_id`` (100, no question or computation of train) ask the in-domain
templates (``search_templates``: 2–3-hop chains and 2-hop comparisons) about entities of the world's
"id" pool. ``test_ood`` (500) asks about entities of the disjoint "ood" pool along four axes of 125
tasks, each changing one thing: ``paraphrase`` (in-domain computations, new wording),
``unseen_template`` (new relation chains), ``more_hops`` (comparisons through one more relation: 4
hops) and ``question_type`` (in-domain computations as yes/no claims).

Each task's teacher trajectory and alternatives come from ``search_plans``; ``search_audit`` measures
the rank of each gold document under the teacher's queries and the share of tasks that the search
results alone would answer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache

from tooluse_envs.domain import Domain
from tooluse_envs.domains.search_plans import Plan, make_plan, teacher_reference
from tooluse_envs.domains.search_templates import IN_DOMAIN, OOD_AXES, Template
from tooluse_envs.domains.search_tools import (  # noqa: F401  (re-exported: the domain's public tools)
    DEFAULT_K,
    MAX_K,
    corpus,
    open_document,
    search,
    search_hits,
    search_tools,
)
from tooluse_envs.domains.search_world import Entity
from tooluse_envs.task_stats import computation_key
from tooluse_envs.tasks import Task

SPLIT_SIZES = {"train": 200, "test_id": 100}
TASKS_PER_AXIS = 125
SPLIT_SEEDS = {"train": 101, "test_id": 202, "test_ood": 303}
QUESTION_SUFFIX = " Use the search tools to find out, and give the final answer in \\boxed{}."


def make_task(plan: Plan, split: str, number: int, axis: str | None) -> Task | None:
    """The task for ``plan`` with its teacher reference, or None when no strategy finds every document."""
    reference = teacher_reference(plan, random.Random(f"{split}:{plan.question}"))
    if reference is None:
        return None
    template = plan.template
    tags = (template.name, f"type:{template.qtype}", f"hops:{template.hops}", f"start:{template.start}")
    return Task(
        id=f"search/{split}/{number:05d}",
        domain="search",
        split=split,
        question=plan.question + QUESTION_SUFFIX,
        tools=("search", "open"),
        expected={"kind": "text", "answer": list(plan.answers)},
        reference=reference,
        tags=tags + ((f"axis:{axis}",) if axis else ()),
    )


def _draw(
    templates: Sequence[Template],
    count: int,
    pool: str,
    rng: random.Random,
    split: str,
    axis: str | None,
    out: list[tuple[Task, Plan]],
    taken: set[str],
) -> None:
    """Append ``count`` tasks, templates in turn, each over its own shuffled starts from ``pool``.

    ``taken`` holds the questions and computations already used (and, for test_id, train's).
    """
    queues: list[tuple[Template, list[Entity]]] = []
    for template in templates:
        starts = [e for e in corpus().entities[template.start] if e.pool == pool]
        rng.shuffle(starts)
        queues.append((template, starts))
    made, turn = 0, 0
    while made < count:
        template, starts = queues[turn % len(queues)]
        needed = 2 if template.qtype == "comparison" or template.pair else 1
        if len(starts) < needed:
            raise RuntimeError(f"search/{split}: too few {template.start} entities for {template.name}")
        plan = make_plan(template, tuple(starts.pop() for _ in range(needed)), rng)
        task = make_task(plan, split, len(out), axis) if plan else None
        if plan is None or task is None or task.question in taken or computation_key(task) in taken:
            continue
        taken.update((task.question, computation_key(task)))
        out.append((task, plan))
        made += 1
        turn += 1


@cache
def split_plans(split: str) -> tuple[tuple[Task, Plan], ...]:
    """Every task of a split with the plan behind it (deterministic; cached per process)."""
    rng = random.Random(SPLIT_SEEDS[split])
    out: list[tuple[Task, Plan]] = []
    if split == "test_ood":
        taken: set[str] = set()
        for axis, templates in OOD_AXES.items():
            _draw(templates, TASKS_PER_AXIS, "ood", rng, split, axis, out, taken)
        return tuple(out)
    taken = set()
    if split == "test_id":
        for task, _ in split_plans("train"):
            taken.update((task.question, computation_key(task)))
    _draw(IN_DOMAIN, SPLIT_SIZES[split], "id", rng, split, None, out, taken)
    return tuple(out)


class SearchDomain(Domain):
    """Multi-hop questions over a generated offline encyclopedia, with BM25 ``search`` and ``open``."""

    name = "search"
    instructions = (
        "The documents describe a fictional world: search them rather than relying on memory. Search results "
        "show only a title and a short description; open a document to read its facts. Several people can "
        "share a name. Put only the name, year or word asked for in the box, e.g. \\boxed{Tarsk}; answer "
        "yes/no questions with \\boxed{yes} or \\boxed{no}."
    )

    def tools(self) -> dict:
        return search_tools()

    def generate(self, split: str) -> list[Task]:
        return [task for task, _ in split_plans(split)]


DOMAIN_CLASS = SearchDomain
