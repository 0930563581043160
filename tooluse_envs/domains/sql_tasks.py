"""Generating the SQL domain's task splits: run each drawn question on its database and keep it only
when its answer is well posed.

Well posed means: a number question's value is exact at the precision the question states (computed
exactly from the fetched rows and checked against what SQL's aggregate gives); a question that asks to
"list all of them" has at least two values and one that asks for one value has exactly one; a top-n list
has n values; a change really changes the data. test_id never repeats a train computation (database,
SQL and answer), and test_ood is the union of three axes that each change one thing: ``unseen_database``
(in-domain questions on hospital/airline), ``unseen_template`` (unseen SQL constructs on the training
databases) and ``paraphrase`` (in-domain questions reworded, none a train computation).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from tooluse_envs.answers import parse_exact, values_match
from tooluse_envs.domain import format_result
from tooluse_envs.domains.sql import EpisodeDatabase, QueryError, rows_outcome
from tooluse_envs.domains.sql_databases import tables_touched
from tooluse_envs.domains.sql_questions import ID_TEMPLATES
from tooluse_envs.domains.sql_questions_ood import UNSEEN_DATABASE_TEMPLATES, UNSEEN_TEMPLATE_TEMPLATES
from tooluse_envs.domains.sql_strategies import FETCH_MAX_ROWS, Solution, teacher_reference
from tooluse_envs.domains.sql_template import Draft, Template
from tooluse_envs.tasks import Task

MAX_ANSWER_VALUES = 12
STATE_EVERY = 5  # one task in five changes the data
MAX_MISSES = 300  # failed draws in a row after which a template is taken to be exhausted
TOOL_NAMES = ("list_tables", "describe_table", "run_sql")


@dataclass(frozen=True)
class Part:
    """One block of a split: its templates, size, seed, wording, and the axis it varies (test_ood)."""

    templates: tuple[Template, ...]
    size: int
    seed: int
    reworded: bool = False
    axis: str = ""


SPLITS: dict[str, tuple[Part, ...]] = {
    "train": (Part(ID_TEMPLATES, 2000, 7001),),
    "test_id": (Part(ID_TEMPLATES, 320, 7002),),
    "test_ood": (
        Part(UNSEEN_DATABASE_TEMPLATES, 120, 7003, axis="unseen_database"),
        Part(UNSEEN_TEMPLATE_TEMPLATES, 120, 7004, axis="unseen_template"),
        Part(tuple(t for t in ID_TEMPLATES if t.paraphrase), 120, 7005, reworded=True, axis="paraphrase"),
    ),
}


def answer_text(values: list[Any]) -> str | None:
    """The boxed answer for a list of values, or None when the values cannot be written unambiguously."""
    if not 1 <= len(values) <= MAX_ANSWER_VALUES:
        return None
    texts = [value if isinstance(value, str) else format_result(value) for value in values]
    if any(value is None or isinstance(value, bytes) for value in values) or any(
        not text.strip() or any(ch in text for ch in ",;\n") for text in texts
    ):
        return None
    return ", ".join(texts)


def exact(value: Any) -> Fraction:
    """A database value as an exact number: floats are read at 6 decimals (the data has at most 2)."""
    if isinstance(value, float):
        return Fraction(Decimal(f"{value:.6f}"))
    return Fraction(value)


def aggregate_exactly(aggregate: str, values: list[Any], decimals: int) -> Decimal | None:
    """The aggregate of the values, computed exactly and rounded half up to ``decimals`` places."""
    counting = aggregate in ("COUNT", "COUNT_DISTINCT")
    numbers = [] if counting else [exact(v) for v in values if v is not None]
    if counting:
        value = Fraction(len(values) if aggregate == "COUNT" else len(set(values)))
    elif not numbers:
        return None
    elif aggregate == "SUM":
        value = sum(numbers, Fraction(0))
    elif aggregate == "AVG":
        value = sum(numbers, Fraction(0)) / len(numbers)
    elif aggregate in ("MAX", "MIN"):
        value = max(numbers) if aggregate == "MAX" else min(numbers)
    else:
        return None
    quantum = Decimal(1).scaleb(-decimals)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, rounding=ROUND_HALF_UP)


def number_text(value: Decimal, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _limit(statement: str) -> int | None:
    found = re.search(r"\bLIMIT (\d+)\s*$", statement)
    return int(found.group(1)) if found else None


def computation_key(db: str, statements: tuple[str, ...], expected: dict[str, Any]) -> str:
    """What a task computes, whatever its wording: database, SQL and answer (test_id must not repeat one)."""
    return json.dumps([db, list(statements), expected.get("answer", expected.get("check"))], sort_keys=True)


class TaskBuilder:
    """Runs drafts on fresh database copies and turns the well-posed ones into tasks."""

    def __init__(self, time_budget_s: float, max_rows: int) -> None:
        self.time_budget_s, self.max_rows = time_budget_s, max_rows

    def _run(self, db: str, writable: bool, statements: list[str]) -> list[list[tuple]]:
        database = EpisodeDatabase(db, writable, self.time_budget_s, self.max_rows)
        try:
            return [database.execute(statement)[1] for statement in statements]
        finally:
            database.close()

    def solve(self, draft: Draft) -> tuple[dict[str, Any], Solution] | None:
        """What the checker will verify and how the task is solved, or None when it is ill posed."""
        template = draft.template
        tables = tuple(tables_touched(template.db, draft.statements))
        writes = template.kind == "state"
        try:
            if writes:
                before, *_, after = self._run(template.db, True, [draft.check, *draft.statements, draft.check])
                if rows_outcome(before, after).correct:
                    return None
                expected = {"kind": "state", "check": {"query": draft.check, "rows": [list(r) for r in after]}}
                return expected, Solution(draft.question, tables, draft.statements, "done", writes=True)
            statements = [draft.statements[0]] + ([draft.fetch] if draft.fetch else [])
            results = self._run(template.db, False, statements)
        except QueryError:
            return None
        values = [row[0] for row in results[0]]
        if template.kind == "number":
            return self._number(template, draft, tables, values, results[1] if draft.fetch else None)
        return self._rows(template, draft, tables, values)

    def _number(
        self, template: Template, draft: Draft, tables: tuple[str, ...], values: list[Any], fetched: list[tuple] | None
    ) -> tuple[dict[str, Any], Solution] | None:
        if len(values) != 1 or not isinstance(values[0], (int, float)) or isinstance(values[0], bool):
            return None
        decimals, aggregate = template.decimals, template.aggregate
        in_sql = exact(values[0])
        value: Decimal | None
        if fetched is None:
            value = Decimal(in_sql.numerator) / Decimal(in_sql.denominator)
            if in_sql.denominator != 1 or decimals:
                return None
        else:
            value = aggregate_exactly(aggregate, [row[0] for row in fetched], decimals)
            if value is None or Fraction(value) != in_sql:  # SQL's float rounding disagrees with exact
                return None
        if value == 0:
            return None
        expected = {"kind": "number", "answer": int(value) if decimals == 0 else float(value), "decimals": decimals}
        sql_answer = format_result(values[0])
        assert parse_exact(sql_answer) == Fraction(value)
        usable = fetched is not None and len(fetched) <= FETCH_MAX_ROWS
        solution = Solution(
            draft.question,
            tables,
            draft.statements,
            sql_answer,
            aggregate,
            draft.fetch if usable else "",
            number_text(value, decimals) if usable else "",
            len(fetched) if fetched is not None else 0,
        )
        return expected, solution

    def _rows(
        self, template: Template, draft: Draft, tables: tuple[str, ...], values: list[Any]
    ) -> tuple[dict[str, Any], Solution] | None:
        text = answer_text(values)
        if text is None:
            return None
        wanted = _limit(draft.statements[0])
        if template.ordered and (len(values) < 2 or (wanted is not None and len(values) != wanted)):
            return None
        if not template.ordered and (len(values) == 1) != (template.answers == "one"):
            return None  # "list all of them" needs several values; a question for one value needs one
        answer = values if template.ordered else sorted(values, key=str)
        expected = {"kind": "rows", "answer": answer, "ordered": template.ordered}
        if not values_match(text, answer, template.ordered):
            return None
        return expected, Solution(draft.question, tables, draft.statements, text)

    def task(self, draft: Draft, task_id: str, split: str, axis: str, solved: tuple[dict[str, Any], Solution]) -> Task:
        expected, solution = solved
        template = draft.template
        tags = (template.name, f"db:{template.db}", template.kind) + ((f"axis:{axis}",) if axis else ())
        return Task(
            id=task_id,
            domain="sql",
            split=split,
            question=draft.question,
            tools=TOOL_NAMES,
            expected=expected,
            reference=teacher_reference(solution, f"{split}:{draft.question}"),
            context={"database": template.db},
            tags=tags,
        )


class Picker:
    """Every fifth task is a state task; otherwise cycle through the answer templates.

    A template whose draws keep failing (its parameters have no more well-posed, unseen questions) is
    retired, so small templates give fewer tasks instead of stalling the split.
    """

    def __init__(self, templates: tuple[Template, ...]) -> None:
        self.states = [t for t in templates if t.kind == "state"]
        self.answers = [t for t in templates if t.kind != "state"]
        self.turn = {"state": 0, "answer": 0}

    def next(self, index: int) -> Template:
        kind = "state" if index % STATE_EVERY == STATE_EVERY - 1 else "answer"
        pool = self.states if kind == "state" else self.answers
        if not pool:
            raise RuntimeError(f"no {kind} template left that can produce another distinct question")
        return pool[self.turn[kind] % len(pool)]

    def done(self, template: Template) -> None:
        kind = "state" if template.kind == "state" else "answer"
        self.turn[kind] += 1

    def retire(self, template: Template) -> None:
        (self.states if template.kind == "state" else self.answers).remove(template)


def generate_split(builder: TaskBuilder, split: str, taken: set[str]) -> tuple[list[Task], set[str]]:
    """Draw a split's tasks; ``taken`` holds questions and computation keys it may not repeat.

    Returns the tasks and the keys they add (train's keys are what test_id and paraphrase avoid).
    """
    tasks: list[Task] = []
    added: set[str] = set()
    for part in SPLITS[split]:
        rng, picker, count, misses = random.Random(part.seed), Picker(part.templates), 0, 0
        while count < part.size:
            template = picker.next(count)
            draft = template.draw(rng, part.reworded)
            solved = None
            if draft.question not in taken and draft.question not in added:
                solved = builder.solve(draft)
            key = computation_key(template.db, draft.statements, solved[0]) if solved else ""
            if solved is None or key in taken or key in added:
                misses += 1
                if misses > MAX_MISSES:
                    picker.retire(template)
                    misses = 0
                continue
            added |= {draft.question, key}
            tasks.append(builder.task(draft, f"sql/{split}/{len(tasks):05d}", split, part.axis, solved))
            picker.done(template)
            count, misses = count + 1, 0
    return tasks, added
