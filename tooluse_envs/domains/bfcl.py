"""BFCL: the Berkeley Function Calling Leaderboard's single-turn categories, the MENTOR paper's OOD test.

Each task is one BFCL question with its function docs as tools. The functions are never run: the
policy's first assistant turn is the whole answer, and its calls are graded with BFCL's AST matching
(``bfcl_checker``) against BFCL's possible answers. The domain declares ``single_turn = True`` so the
env ends the episode after that turn; a call made anyway gets a neutral acknowledgement.

Categories (from ``bfcl-eval``'s ``data/``, read at run time, never copied here): ``simple`` (Python),
``multiple``, ``parallel``, ``parallel_multiple``, ``irrelevance`` and their ``live_`` counterparts.
Multi-turn categories (stateful API classes) are not included.

Splits. BFCL is an out-of-domain benchmark; ``train`` and ``test_id`` are small held-out slices for
smoke tests and quick looks, and ``test_ood`` is everything else, so the three are disjoint and
training on ``train`` never contaminates the BFCL score. The slices are taken per category by BFCL's
own entry number (the ``N`` of ``simple_python_N``, ``live_multiple_N-...``): ``N % 20 == 0`` goes to
``train``, ``N % 20 == 10`` to ``test_id``, any other to ``test_ood``. Every category so keeps about
90% of its entries in ``test_ood`` (``split_table()`` gives the counts for the README).

With bfcl-eval 2026.3.23, ``test_ood`` has 3,121 tasks (``train`` 176, ``test_id`` 174). Four tasks
(live_simple_106-63-0, live_simple_112-68-0, live_multiple_862-181-3, live_multiple_964-207-0, all in
``test_ood``) are left out: their possible answer contradicts their own function docs (a required
parameter it does not list, or a parameter the docs do not declare), so no call passes, by BFCL's
rules as by ours. Which tasks are left out is decided at load time by grading each reference, and
listed in ``BFCLDomain.skipped``.

Calls are validated against the converted JSON Schema like in every domain (an invalid call gets an
error observation and counts as invalid), but the outcome follows BFCL's rules on every call the
policy wrote, so a value BFCL forgives (a case variant of an enum value, say) still scores. In 16 tasks
the possible answer itself breaks its docs' enum or type: their references score 1 but make an
invalid call.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, ClassVar

from tooluse_envs.domain import Domain, Session
from tooluse_envs.domains.bfcl_checker import Call, check_calls
from tooluse_envs.domains.bfcl_data import (
    CATEGORIES,
    function_schema,
    read_category,
    reference_calls,
    render_question,
)
from tooluse_envs.episode import EpisodeRecord, Outcome
from tooluse_envs.errors import ConfigError, TaskError
from tooluse_envs.tasks import SPLITS, Task
from tooluse_envs.tools import Tool

SLICE_EVERY = 20  # train/test_id take one task in 20 of each category; test_ood the other 18
SLICE_OFFSETS = {"train": 0, "test_id": SLICE_EVERY // 2}
ACKNOWLEDGEMENT = "Call recorded. (BFCL functions are not executed: the calls of your first reply are the answer.)"


def _make_task(entry: dict[str, Any], ground_truth: list[dict[str, Any]], category: str, split: str) -> Task:
    """One BFCL entry as a Task; the function docs travel in ``context`` (names collide across tasks)."""
    functions: dict[str, dict[str, Any]] = {}
    for doc in entry["function"]:
        functions.setdefault(doc["name"], function_schema(doc))
    parameters = {name: function["parameters"] for name, function in functions.items()}
    return Task(
        id=f"bfcl/{split}/{entry['id']}",
        domain="bfcl",
        split=split,
        question=render_question(entry["question"][0]),
        tools=tuple(functions),
        expected={"kind": "state", "check": {"category": category, "ground_truth": ground_truth}},
        reference=reference_calls(ground_truth, parameters),
        context={"bfcl_id": entry["id"], "category": category, "functions": list(functions.values())},
        tags=(
            f"category:{category}",
            "live" if category.startswith("live_") else "non_live",
            f"calls:{len(ground_truth)}",
        ),
    )


def _parameters(task: Task) -> dict[str, dict[str, Any]]:
    return {function["name"]: function["parameters"] for function in task.context["functions"]}


def grade(task: Task, calls: list[Call]) -> Outcome:
    """BFCL's verdict on the calls of the answering turn."""
    return check_calls(calls, task.expected["check"]["ground_truth"], _parameters(task))


def split_of(number: int) -> str:
    """The split of the entry with BFCL entry number ``number`` (its position in its category file)."""
    slot = number % SLICE_EVERY
    return next((split for split, offset in SLICE_OFFSETS.items() if offset == slot), "test_ood")


def _solvable(task: Task) -> bool:
    calls = [Call(c.name, c.arguments) for c in task.reference.tool_calls]
    return grade(task, calls).correct


@cache
def _category_tasks(category: str, split: str) -> tuple[tuple[Task, ...], tuple[str, ...]]:
    """The tasks of one category in one split, and the ids of the unsolvable ones left out."""
    rows = [row for number, row in enumerate(read_category(category)) if split_of(number) == split]
    kept: list[Task] = []
    skipped: list[str] = []
    for entry, ground_truth in rows:
        task = _make_task(entry, ground_truth, category, split)
        if _solvable(task):
            kept.append(task)
        else:
            skipped.append(task.context["bfcl_id"])
    return tuple(kept), tuple(skipped)


@cache
def _tool(function_json: str) -> Tool:
    """A Tool per distinct function doc (shared by the many tasks that offer the same doc)."""
    function = json.loads(function_json)
    return Tool(function["name"], function["description"], function["parameters"])


class BFCLSession(Session):
    """Acknowledges calls without running them; grades the episode's calls with BFCL's rules.

    The grade needs every call, the ones the env refused as invalid included (an extra malformed call
    breaks a BFCL answer), so it is made from the env's record in ``check_episode``.
    """

    def call(self, tool: Tool, arguments: dict[str, Any]) -> str:
        return ACKNOWLEDGEMENT

    def check_episode(self, episode: EpisodeRecord) -> Outcome:
        return grade(self.task, [Call(c.name, c.arguments) for c in episode.tool_calls])


class BFCLDomain(Domain):
    """BFCL's single-turn function-calling categories, graded by AST matching.

    Args:
        categories: Restrict the tasks to these categories (default: all ten).
    """

    name = "bfcl"
    single_turn: ClassVar[bool] = True
    instructions = (
        "This is a function-calling test and the functions are not executed. Answer in your first reply by "
        "calling the function(s) that fulfil the request, with every call it needs in that one reply; that "
        "reply ends the episode. If none of the functions fits the request, reply without calling any."
    )

    def __init__(self, categories: list[str] | tuple[str, ...] | None = None) -> None:
        chosen = tuple(categories) if categories is not None else tuple(CATEGORIES)
        unknown = [c for c in chosen if c not in CATEGORIES]
        if unknown or not chosen:
            raise ConfigError(f"unknown BFCL categories {unknown}; choose among {', '.join(CATEGORIES)}")
        self.categories = chosen
        self.skipped: dict[str, tuple[str, ...]] = {}

    def tools(self) -> dict[str, Tool]:
        """Empty: BFCL's functions belong to their task (one name has different docs in different tasks)."""
        return {}

    def task_tools(self, task: Task) -> dict[str, Tool]:
        return {f["name"]: _tool(json.dumps(f, sort_keys=True)) for f in task.context["functions"]}

    def generate(self, split: str) -> list[Task]:
        """Build the split from the installed BFCL data (nothing is written to ``tasks/``)."""
        if split not in SPLITS:
            raise TaskError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        tasks: list[Task] = []
        for category in self.categories:
            kept, skipped = _category_tasks(category, split)
            tasks.extend(kept)
            if skipped:
                self.skipped[f"{split}/{category}"] = skipped
        return tasks

    def load(self, split: str) -> list[Task]:
        return self.generate(split)

    def open(self, task: Task) -> BFCLSession:
        return BFCLSession(task, self.task_tools(task))


def split_table(categories: tuple[str, ...] = tuple(CATEGORIES)) -> str:
    """A Markdown table of the tasks per category and split (the README's BFCL split table)."""
    lines = ["| Category | " + " | ".join(SPLITS) + " | left out |", "|---|" + "---:|" * (len(SPLITS) + 1)]
    totals = dict.fromkeys(SPLITS, 0)
    for category in categories:
        cells = []
        left_out = 0
        for split in SPLITS:
            kept, skipped = _category_tasks(category, split)
            totals[split] += len(kept)
            left_out += len(skipped)
            cells.append(str(len(kept)))
        lines.append(f"| {category} | " + " | ".join(cells) + f" | {left_out} |")
    lines.append("| all | " + " | ".join(str(totals[s]) for s in SPLITS) + " | |")
    return "\n".join(lines) + "\n"


DOMAIN_CLASS = BFCLDomain
