"""The shape of an SQL question template: its wording, its SQL, and where its constants come from.

A template's parameters are drawn from fixed choices or from the rows of a query on its database, so
questions name real entities; the same values are shown in the question and quoted into the SQL. The
answer is never written here: the generator runs the SQL on the database and records what it returns.

A template also says how many values its answer has (``answers``: one, or several), so the question's
wording never asks to "list all of them" when there is one; and, for number questions, what the SQL
aggregates (``fetch``), so a teacher can instead fetch those values and aggregate them in its answer.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tooluse_envs.domain import format_result
from tooluse_envs.domains.sql_databases import query_rows

SUFFIX = {
    "many": " List all of them, separated by commas, in any order.",
    "one": "",
    "ordered": " List them in that order, separated by commas.",
    "number": "",
    "state": " Make the change with run_sql, then reply \\boxed{done}.",
}
ROUND2 = "Round to 2 decimal places (halves round up)."
AGGREGATES = ("COUNT", "SUM", "AVG", "MAX", "MIN")


class Raw(str):
    """A parameter value pasted into SQL as is (a column name), not quoted as a string literal."""


@dataclass(frozen=True)
class Template:
    """One question shape: its wording (and a paraphrase), its SQL, and the choices for each ``{param}``.

    ``answers`` is "many" (a list, at least two values), "one" (exactly one value) or "number".
    ``fetch``, for number templates, is what the aggregate runs over: an expression that replaces the
    SELECT list, or a whole SELECT statement; empty when the value cannot be fetched row by row.
    ``decimals`` is the answer's precision, which the question states when rounding is needed.
    """

    name: str
    db: str
    question: str
    sql: tuple[str, ...]
    params: dict[str, Sequence[Any] | str] = field(default_factory=dict)
    kind: str = "rows"  # rows | number | state
    ordered: bool = False
    check: str = ""  # state tasks: the query whose rows verify the final database
    paraphrase: str = ""  # the same question in other words (test_ood's paraphrase axis)
    answers: str = "many"  # rows: "many" or "one"
    fetch: str = ""  # number: the aggregated values, fetched (see the class docstring)
    decimals: int = 0

    def draw(self, rng: random.Random, reworded: bool = False) -> Draft:
        """Pick one value per parameter and fill in the question (or its paraphrase), statements and check."""
        values = {key: rng.choice(choices(self.db, spec)) for key, spec in self.params.items()}
        shown = {key: display(v) for key, v in values.items()}
        quoted = {key: literal(v) for key, v in values.items()}
        wording = self.paraphrase if reworded else self.question
        return Draft(
            self,
            wording.format(**shown) + SUFFIX[self.suffix_kind],
            tuple(statement.format(**quoted) for statement in self.sql),
            self.check.format(**quoted),
            self.fetch_sql().format(**quoted) if self.kind == "number" and self.fetch else "",
        )

    @property
    def suffix_kind(self) -> str:
        if self.ordered:
            return "ordered"
        return self.answers if self.kind == "rows" else self.kind

    @property
    def aggregate(self) -> str:
        """The aggregate function of a number template's SELECT list ("COUNT", "AVG", ...), or ""."""
        head = self.sql[0].split(" FROM ", 1)[0].upper()
        found = [(head.find(f"{name}("), name) for name in AGGREGATES if f"{name}(" in head]
        name = min(found)[1] if found else ""
        return "COUNT_DISTINCT" if name == "COUNT" and "COUNT(DISTINCT" in head else name

    def fetch_sql(self) -> str:
        """The statement that returns the values the number template aggregates, one per row."""
        if self.fetch.upper().startswith("SELECT "):
            return self.fetch
        return f"SELECT {self.fetch} FROM " + self.sql[0].split(" FROM ", 1)[1]


@dataclass(frozen=True)
class Draft:
    """A template with its parameters filled in, before the generator runs it."""

    template: Template
    question: str
    statements: tuple[str, ...]
    check: str
    fetch: str = ""


def choices(db: str, spec: Sequence[Any] | str) -> Sequence[Any]:
    """A parameter's choices: a fixed sequence, or the rows of a query on the template's database."""
    return query_rows(db, spec) if isinstance(spec, str) else spec


def display(value: Any) -> Any:
    """A value as the question shows it (tuples stay tuples, so ``{pair[0]}`` works)."""
    if isinstance(value, tuple):
        return tuple(display(v) for v in value)
    return value if isinstance(value, str) else format_result(value)


def literal(value: Any) -> Any:
    """A value as SQL reads it: strings quoted, numbers as written, Raw pasted."""
    if isinstance(value, tuple):
        return tuple(literal(v) for v in value)
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return format_result(value)


def A(
    name: str,
    db: str,
    question: str,
    sql: str,
    kind: str = "rows",
    ordered: bool = False,
    paraphrase: str = "",
    answers: str = "many",
    fetch: str = "",
    decimals: int = 0,
    **params: Any,
) -> Template:
    """An answer template (read-only database): ``kind`` "rows" or "number"."""
    return Template(name, db, question, (sql,), params, kind, ordered, "", paraphrase, answers, fetch, decimals)


def S(
    name: str, db: str, question: str, sql: str | tuple[str, ...], check: str, paraphrase: str = "", **params: Any
) -> Template:
    """A state template: the statements change the database, the check query verifies it."""
    statements = (sql,) if isinstance(sql, str) else sql
    return Template(name, db, question, statements, params, "state", False, check, paraphrase)


_FIELD = re.compile(r"\{(\w+)(?:\[(\d+)\])?\}")


def question_pattern(wording: str, suffix: str = "") -> re.Pattern[str]:
    """A regex that reads a template's parameters back out of a question written with ``wording``.

    Each ``{name}`` or ``{name[i]}`` becomes a named group (``name`` or ``name_i``); a field used twice
    must show the same text both times; ``suffix`` (the answer-format sentence) follows as literal text.
    Tests use it to recompute answers from what the question says.
    """
    out, seen, last = [], set(), 0
    for match in _FIELD.finditer(wording):
        out.append(re.escape(wording[last : match.start()]))
        group = match.group(1) + (f"_{match.group(2)}" if match.group(2) else "")
        out.append(f"(?P={group})" if group in seen else f"(?P<{group}>.+?)")
        seen.add(group)
        last = match.end()
    out.append(re.escape(wording[last:] + suffix))
    return re.compile("".join(out), re.DOTALL)
