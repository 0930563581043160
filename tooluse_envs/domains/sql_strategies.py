"""The teacher's strategy for an SQL task, chosen per task from what the question shows, and the others.

Two choices make an SQL trajectory. *Exploration*: a strong model that sees every table it needs named
in the question, on a small join, often queries at once (``query_directly``); when the question hides a
table ("copies sold" means order_items) it lists the tables first (``explore_schema``); in between it
describes the tables it expects (``describe_then_query``). *Computation*, for number questions: the
aggregate runs in SQL (``aggregate_in_sql``), or, for a count, maximum or minimum over a handful of rows,
the teacher fetches the rows and works the answer out itself (``compute_in_answer``).

The choice is drawn with a generator seeded by the question, with probabilities that follow these
features, so it varies within a template. Every other combination that is correct becomes one of the
reference's ``alternatives``; the exploration strategies use different tool sets, so a student that
answers with another tool set is right, and a teacher-matching reward can tell which one the teacher chose.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tooluse_envs.tasks import Reference, ReferenceCall

EXPLORATIONS = ("query_directly", "describe_then_query", "explore_schema")
FEW_ROWS = 8  # the teacher counts or scans fetched rows itself only when there are at most this many
FETCH_MAX_ROWS = 30  # beyond this, working through fetched rows by hand is not a sensible alternative
SCANNABLE = ("COUNT", "COUNT_DISTINCT", "MAX", "MIN")


@dataclass(frozen=True)
class Solution:
    """What a task can be solved with: the tables it touches and the two ways to compute the answer.

    ``statements`` and ``answer`` are the SQL that computes the answer (or makes the change) and what
    it gives; ``fetch``/``fetched_answer`` the statement that returns the rows to aggregate by hand and
    the answer worked out from them (empty when that is not a sensible way).
    """

    question: str
    tables: tuple[str, ...]
    statements: tuple[str, ...]
    answer: str
    aggregate: str = ""
    fetch: str = ""
    fetched_answer: str = ""
    fetched_rows: int = 0
    writes: bool = False


def table_named(table: str, question: str) -> bool:
    """Whether the question names the table: every word of its name appears (singular or plural)."""
    text = question.lower()
    stems = [part[:-1] if part.endswith("s") else part for part in table.lower().split("_")]
    return all(re.search(rf"\b{re.escape(stem)}", text) for stem in stems)


def choose_exploration(solution: Solution, rng: random.Random) -> str:
    """The teacher's exploration: direct when the question names every table of a small query."""
    tables = solution.tables
    if all(table_named(t, solution.question) for t in tables):
        direct, listing = {1: 0.6, 2: 0.4}.get(len(tables), 0.15), 0.25
    else:
        direct, listing = 0.05, 0.85
    if solution.writes:  # a change needs the exact columns: look before writing more often
        direct /= 2
    if rng.random() < direct:
        return "query_directly"
    return "explore_schema" if rng.random() < listing else "describe_then_query"


def choose_computation(solution: Solution, rng: random.Random) -> str:
    """Aggregate in SQL, or fetch a few rows and count/scan them in the answer."""
    if not solution.fetch or solution.aggregate not in SCANNABLE or solution.fetched_rows > FEW_ROWS:
        return "aggregate_in_sql"
    return "compute_in_answer" if rng.random() < 0.5 else "aggregate_in_sql"


def _trajectory(exploration: str, computation: str, solution: Solution) -> Reference:
    calls: list[ReferenceCall] = []
    turns: list[int] = []
    if exploration == "explore_schema":
        calls.append(ReferenceCall("list_tables", {}))
        turns.append(1)
    if exploration in ("explore_schema", "describe_then_query"):
        calls += [ReferenceCall("describe_table", {"table": table}) for table in solution.tables]
        turns.append(len(solution.tables))
    fetching = computation == "compute_in_answer"
    statements: Sequence[str] = (solution.fetch,) if fetching else solution.statements
    calls += [ReferenceCall("run_sql", {"query": statement}) for statement in statements]
    turns += [1] * len(statements)
    name = exploration if not computation else f"{exploration}+{computation}"
    answer = solution.fetched_answer if fetching else solution.answer
    return Reference(tuple(calls), answer, tuple(turns), name)


def teacher_reference(solution: Solution, seed: str) -> Reference:
    """The teacher's trajectory, chosen per task, with every other correct strategy as an alternative."""
    rng = random.Random(f"sql-teacher:{seed}")
    exploration = choose_exploration(solution, rng)
    computations = [""]
    computation = ""
    if solution.aggregate:
        computation = choose_computation(solution, rng)
        computations = ["aggregate_in_sql"] + (["compute_in_answer"] if solution.fetch else [])
    teacher = _trajectory(exploration, computation, solution)
    others = [
        _trajectory(e, c, solution)
        for e in EXPLORATIONS
        for c in computations
        if (e, c) != (exploration, computation) and (e == exploration or c == computation)
    ]
    return Reference(teacher.tool_calls, teacher.answer, teacher.turns, teacher.strategy, tuple(others))
