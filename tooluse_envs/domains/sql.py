"""SQL: questions about, and changes to, SQLite databases, worked through three tools.

Every episode gets a private in-memory copy of one of five generated databases (see ``sql_databases``).
``list_tables``, ``describe_table`` and ``run_sql`` run against that copy under an authorizer: answer
tasks may only read; state tasks may also INSERT, UPDATE and DELETE, and are checked by running a query
on the final database. Each statement runs under a time budget (a progress handler aborts it), a row cap
and a size cap on the rendered result, so a runaway query costs a second, not the process. The progress
handler runs between VM instructions, so work inside one C function call escapes it: strings and blobs
are capped at ``MAX_VALUE_BYTES``, LIKE/GLOB patterns at ``MAX_LIKE_PATTERN``, and the built-ins whose
one call can still run long (``printf``, ``trim``, ``instr``, ``replace``) get bounded arguments
(``sql_functions``), so no single call outlasts the budget by more than a fraction of a second.

In-domain tasks (``train``, ``test_id``) use the bookstore, company and school schemas with filters,
joins of up to three tables and simple aggregates; ``test_ood`` is the union of three axes, each changing
one thing: the unseen hospital and airline schemas, SQL constructs training never shows (GROUP BY ...
HAVING, subqueries, window functions) on the seen schemas, and reworded in-domain questions. Generation
lives in ``sql_tasks``, the teacher's strategies in ``sql_strategies``.
"""

from __future__ import annotations

import math
import re
import sqlite3
import sys
import time
from collections import Counter
from functools import cache
from typing import Any

from tooluse_envs.domain import Domain, Session, check_answer, format_result
from tooluse_envs.domains.sql_databases import fresh_copy, table_schemas
from tooluse_envs.domains.sql_functions import install_bounded_functions
from tooluse_envs.episode import Outcome
from tooluse_envs.errors import ConfigError
from tooluse_envs.tasks import Task
from tooluse_envs.tools import Tool

TIME_BUDGET_S = 1.0
MAX_ROWS = 200
MAX_RESULT_CHARS = 6000
MAX_CELL_CHARS = 200
PROGRESS_STEPS = 1000  # SQLite VM instructions between two looks at the clock
MAX_VALUE_BYTES = 1_000_000  # SQLITE_LIMIT_LENGTH: the largest string or blob a statement may build
MAX_LIKE_PATTERN = 128  # SQLITE_LIMIT_LIKE_PATTERN_LENGTH: LIKE/GLOB work grows with value × pattern length

READ_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_SELECT,
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_FUNCTION,
        sqlite3.SQLITE_RECURSIVE,
        sqlite3.SQLITE_TRANSACTION,
        sqlite3.SQLITE_SAVEPOINT,
    }
)
DML_ACTIONS = frozenset({sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE})
READ_PRAGMAS = frozenset({"table_info", "table_xinfo", "table_list", "foreign_key_list", "index_list", "index_info"})
ACTION_NAMES = {
    getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ")
    for name in (
        "INSERT UPDATE DELETE CREATE_INDEX CREATE_TABLE CREATE_TEMP_INDEX CREATE_TEMP_TABLE CREATE_TEMP_TRIGGER "
        "CREATE_TEMP_VIEW CREATE_TRIGGER CREATE_VIEW CREATE_VTABLE DROP_INDEX DROP_TABLE DROP_TEMP_INDEX "
        "DROP_TEMP_TABLE DROP_TEMP_TRIGGER DROP_TEMP_VIEW DROP_TRIGGER DROP_VIEW DROP_VTABLE ALTER_TABLE REINDEX "
        "ANALYZE ATTACH DETACH PRAGMA"
    ).split()
}


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(\*/|$)", re.DOTALL)


class QueryError(Exception):
    """A call the database refused or could not finish; the message is what the policy reads."""


class Guard:
    """The authorizer of one episode's connection: what SQL may do, and why it last refused.

    ``PRAGMA query_only`` can be switched off by SQL, so the rules are enforced here instead, when each
    statement is prepared: reads always; INSERT/UPDATE/DELETE on the task's tables only on state tasks;
    never DDL, ATTACH/DETACH or pragmas that write.
    """

    def __init__(self, writable: bool) -> None:
        self.writable = writable
        self.refusal: str | None = None

    def refuse(self, reason: str) -> None:
        """Note why a function call of the running statement was refused (the error then names it)."""
        self.refusal = reason

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
        if action in READ_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in READ_PRAGMAS:
            return sqlite3.SQLITE_OK
        internal = (arg1 or "").startswith("sqlite_")  # DDL shows up as a write to sqlite_master first
        if action in DML_ACTIONS and self.writable and db == "main" and not internal:
            return sqlite3.SQLITE_OK
        what = ACTION_NAMES.get(action, "this statement") + (f" on {arg1}" if arg1 else "")
        if internal:
            what = "changing the schema (CREATE, DROP, ALTER) or SQLite's internal tables"
        if self.writable:
            self.refusal = f"{what} is not allowed here: only SELECT, INSERT, UPDATE and DELETE may run"
        else:
            self.refusal = f"this task's database is read-only: {what} is not allowed; use SELECT queries"
        return sqlite3.SQLITE_DENY


def _cell(value: Any) -> str:
    """One value as the policy reads it: NULL spelled out, numbers without float noise, long text cut."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"<blob of {len(value)} bytes>"
    text = format_result(value).replace("\n", "\\n")
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"


def render_rows(columns: list[str], rows: list[tuple], more: int | None, max_rows: int) -> str:
    """A result as a pipe-separated table with a header and a footer naming what was left out.

    ``more`` is how many rows beyond ``rows`` the query returned (None: too many to count in time).
    """
    lines, size = [" | ".join(columns)], len(columns)
    for i, row in enumerate(rows):
        line = " | ".join(_cell(v) for v in row)
        size += len(line) + 1
        if size > MAX_RESULT_CHARS:
            left = len(rows) - i + (more or 0)
            lines.append(f"... {left} more rows not shown (output limit of {MAX_RESULT_CHARS} characters)")
            break
        lines.append(line)
    if more is None:
        lines.append(f"... more rows not shown (only {max_rows} rows are shown; counting stopped at the time budget)")
    elif more:
        lines.append(f"... {more} more rows not shown (only {max_rows} rows are shown)")
    total = "?" if more is None else len(rows) + more
    lines.append(f"({total} {'row' if total == 1 else 'rows'})")
    return "\n".join(lines)


class EpisodeDatabase:
    """One episode's private database copy with its guard, time budget and row cap."""

    def __init__(self, name: str, writable: bool, time_budget_s: float = TIME_BUDGET_S, max_rows: int = MAX_ROWS):
        self.name, self.time_budget_s, self.max_rows = name, time_budget_s, max_rows
        self.conn = fresh_copy(name)
        self.guard = Guard(writable)
        self._deadline = math.inf
        if sys.version_info >= (3, 11):  # Connection.setlimit: cap string/blob size and forbid attached files
            self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            self.conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            self.conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_LIKE_PATTERN)
        self._functions_helper = install_bounded_functions(self.conn, self.guard.refuse, MAX_VALUE_BYTES)
        self.conn.set_authorizer(self.guard)
        self.conn.set_progress_handler(self._over_budget, PROGRESS_STEPS)

    def _over_budget(self) -> bool:
        """SQLite's progress handler: a true result aborts the running statement ("interrupted")."""
        return time.monotonic() > self._deadline

    def _execute(self, query: str) -> sqlite3.Cursor:
        """Prepare and start one statement, turning SQLite's refusals into messages that say what to do."""
        self.guard.refusal = None
        self._deadline = time.monotonic() + self.time_budget_s
        try:
            return self.conn.execute(query)
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise self._explain(exc) from None

    def _explain(self, exc: Exception) -> QueryError:
        """The observation for a failed statement: what went wrong and, where it helps, what to do instead."""
        message = str(exc)
        if "one statement at a time" in message:
            return QueryError("only one SQL statement per run_sql call; send each statement in its own call")
        if "pattern too complex" in message:
            return QueryError(f"LIKE/GLOB pattern too long: at most {MAX_LIKE_PATTERN} characters")
        if message == "interrupted":
            return QueryError(f"query interrupted: time budget of {self.time_budget_s} s exceeded")
        refused = "not authorized" in message or "authorization denied" in message
        if (refused or "user-defined function raised exception" in message) and self.guard.refusal:
            return QueryError(self.guard.refusal)
        return QueryError(f"{type(exc).__name__}: {message}")

    def execute(self, query: str) -> tuple[list[str], list[tuple], int]:
        """Run a statement and return (columns, every row, rows changed); for generation and checks."""
        try:
            cursor = self._execute(query)
            rows = cursor.fetchall()
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise self._explain(exc) from None
        finally:
            self._deadline = math.inf
        columns = [d[0] for d in cursor.description or ()]
        return columns, rows, cursor.rowcount

    def run_sql(self, query: str) -> str:
        """The run_sql tool: at most ``max_rows`` rows, counting the rest while the budget lasts."""
        try:
            cursor = self._execute(query)
            if cursor.description is None:
                if cursor.rowcount >= 0:
                    return f"OK: {cursor.rowcount} {'row' if cursor.rowcount == 1 else 'rows'} affected"
                if not _COMMENTS.sub("", query).strip(" ;\t\r\n"):
                    raise QueryError("the query holds no SQL statement")
                return "OK"
            rows = cursor.fetchmany(self.max_rows + 1)
            more: int | None = 0
            if len(rows) > self.max_rows:
                rows, more = rows[: self.max_rows], 1
                try:
                    more += sum(1 for _ in cursor)
                except sqlite3.OperationalError:
                    more = None
            return render_rows([d[0] for d in cursor.description], rows, more, self.max_rows)
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise self._explain(exc) from None
        finally:
            self._deadline = math.inf

    def list_tables(self) -> str:
        """The list_tables tool: every table with its current row count."""
        names = list(table_schemas(self.name))
        counts = self.execute("SELECT " + ", ".join(f'(SELECT COUNT(*) FROM "{n}")' for n in names))[1][0]
        return "\n".join(f"{n} ({c} rows)" for n, c in zip(names, counts, strict=True))

    def describe_table(self, table: str) -> str:
        """The describe_table tool: the CREATE statement, the row count and three sample rows."""
        schemas = table_schemas(self.name)
        name = next((n for n in schemas if n.lower() == table.strip().strip('"`[]').lower()), None)
        if name is None:
            raise QueryError(f"no table named {table!r}; the tables are: {', '.join(schemas)}")
        count = self.execute(f'SELECT COUNT(*) FROM "{name}"')[1][0][0]
        columns, rows, _ = self.execute(f'SELECT * FROM "{name}" LIMIT 3')
        sample = render_rows(columns, rows, 0, self.max_rows).rsplit("\n", 1)[0]
        return f"{schemas[name]}\n-- {count} rows; sample:\n{sample}"

    def close(self) -> None:
        """Drop the callbacks (they reference this object) and the copy."""
        self.conn.set_authorizer(None)
        self.conn.set_progress_handler(None, 0)
        self.conn.close()
        self._functions_helper.close()


def _row_key(row: Any) -> tuple:
    """A row as a hashable key: floats rounded, so 5, 5.0 and 5.000001 agree (5 == 5.0 in a Counter)."""
    return tuple(round(v, 4) if type(v) is float else v for v in row)


def rows_outcome(got: list[Any], want: list[Any]) -> Outcome:
    """Compare a state check's rows with the expected rows as multisets; the score is their overlap."""
    have, need = Counter(map(_row_key, got)), Counter(map(_row_key, want))
    overlap = sum((have & need).values()) / max(sum(have.values()), sum(need.values()), 1)
    return Outcome(have == need, overlap, {"rows": sum(have.values()), "expected_rows": sum(need.values())})


class SQLSession(Session):
    """One episode: the tools dispatch to the episode's own database, and state tasks check it."""

    def __init__(self, task: Task, tools: dict[str, Tool], database: EpisodeDatabase) -> None:
        super().__init__(task, tools)
        self.database = database

    def call(self, tool: Tool, arguments: dict[str, Any]) -> str:
        """Dispatch a validated call; a QueryError becomes the error observation."""
        if tool.name == "list_tables":
            return self.database.list_tables()
        if tool.name == "describe_table":
            return self.database.describe_table(arguments["table"])
        if tool.name == "run_sql":
            return self.database.run_sql(arguments["query"])
        raise QueryError(f"the SQL domain has no tool {tool.name!r}")

    def check(self, answer: str | None) -> Outcome:
        """Answer tasks compare the boxed answer; state tasks run the check query on the final database."""
        if self.task.expected["kind"] != "state":
            return check_answer(self.task.expected, answer)
        try:
            _, rows, _ = self.database.execute(self.task.expected["check"]["query"])
        except QueryError as exc:
            return Outcome(False, 0.0, {"error": str(exc)})
        return rows_outcome(rows, self.task.expected["check"]["rows"])

    def close(self) -> None:
        self.database.close()


@cache
def _tools() -> dict[str, Tool]:
    """The three tools, declared once; their code lives in the session, which owns the episode's database."""

    def schema(**properties: Any) -> dict[str, Any]:
        return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}

    return {
        "list_tables": Tool("list_tables", "List the tables of the database with their row counts.", schema()),
        "describe_table": Tool(
            "describe_table",
            "Show a table's CREATE statement (columns, types, primary and foreign keys), its row count and three "
            "sample rows.",
            schema(table={"type": "string", "description": "The table name, as list_tables shows it."}),
        ),
        "run_sql": Tool(
            "run_sql",
            f"Run one SQLite statement (SELECT; INSERT, UPDATE or DELETE only when the task asks for a change) and "
            f"return its rows as a table: at most {MAX_ROWS} rows, and the query is stopped after {TIME_BUDGET_S} s.",
            schema(query={"type": "string", "minLength": 1, "description": "A single SQL statement."}),
        ),
    }


class SQLDomain(Domain):
    """SQLite databases explored and changed through list_tables, describe_table and run_sql."""

    name = "sql"
    instructions = (
        "Each task has its own SQLite database. Explore it with list_tables and describe_table, then run one SQL "
        "statement per run_sql call. Give the final answer in \\boxed{}: one value, or a list of values separated "
        "by commas (for example \\boxed{Smith, Jones}), in the order asked for when the question asks for one. "
        "When a task asks you to change the data, make the change with run_sql and reply \\boxed{done}."
    )

    def __init__(self, time_budget_s: float = TIME_BUDGET_S, max_rows: int = MAX_ROWS) -> None:
        if time_budget_s <= 0 or max_rows < 1:
            raise ConfigError("time_budget_s must be positive and max_rows at least 1")
        self.time_budget_s, self.max_rows = time_budget_s, max_rows

    def tools(self) -> dict[str, Tool]:
        return _tools()

    def open(self, task: Task) -> SQLSession:
        writable = task.expected["kind"] == "state"
        database = EpisodeDatabase(task.context["database"], writable, self.time_budget_s, self.max_rows)
        return SQLSession(task, self.task_tools(task), database)

    def generate(self, split: str) -> list[Task]:
        """A split's tasks (see ``sql_tasks``); test splits avoid train's questions and computations."""
        from tooluse_envs.domains.sql_tasks import TaskBuilder, generate_split  # it builds on this module

        builder = TaskBuilder(self.time_budget_s, self.max_rows)
        taken = set() if split == "train" else generate_split(builder, "train", set())[1]
        return generate_split(builder, split, taken)[0]


DOMAIN_CLASS = SQLDomain
