"""The SQL domain: its databases, its guard and limits, its state checks, and its generated tasks."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter

import pytest
from gymnasium.utils.env_checker import check_env

from tooluse_envs.domains.sql import SQLDomain
from tooluse_envs.domains.sql_databases import IN_DOMAIN, OUT_OF_DOMAIN, template_db
from tooluse_envs.env import ToolUseEnv
from tooluse_envs.errors import ConfigError
from tooluse_envs.oracle import play_reference, reference_actions
from tooluse_envs.parsing import render_turn
from tooluse_envs.tasks import SPLITS, Task, load_tasks, tasks_dir


def sql(query: str) -> str:
    return render_turn("", [("run_sql", {"query": query})])


def answer(text: str) -> str:
    return f"The answer is \\boxed{{{text}}}."


def first(split: str, template: str) -> Task:
    return next(task for task in load_tasks("sql", split) if task.tags[0] == template)


def play(env: ToolUseEnv, task: Task, actions: list[str]) -> tuple[float, list[str]]:
    """Reset to ``task``, take the actions, return the final reward and every observation."""
    env.reset(options={"task_id": task.id})
    observations, reward = [], 0.0
    for action in actions:
        observation, reward, terminated, truncated, _ = env.step(action)
        observations.append(observation)
        if terminated or truncated:
            break
    return reward, observations


@pytest.fixture(scope="module")
def train_env() -> ToolUseEnv:
    return ToolUseEnv(domain="sql", split="train")


# -- generated tasks ------------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_reference_of_every_task_reaches_full_outcome_reward(split):
    env = ToolUseEnv(domain="sql", split=split, reward="outcome")
    failures = [task.id for task in env.tasks if play_reference(env, task.id)[0] != 1.0]
    assert not failures, f"{len(failures)} references fail, first: {failures[:3]}"


def test_generation_is_deterministic_and_matches_the_committed_files():
    domain = SQLDomain()
    for split in SPLITS:
        generated = [json.dumps(task.to_dict(), sort_keys=True) for task in domain.generate(split)]
        committed = [json.dumps(task.to_dict(), sort_keys=True) for task in load_tasks("sql", split)]
        assert generated == committed, f"tasks/sql/{split}.jsonl is stale: run python -m tooluse_envs.generate sql"
    assert domain.generate("test_ood") == domain.generate("test_ood")


def test_split_sizes_state_share_and_distinct_questions():
    tasks = {split: load_tasks("sql", split) for split in SPLITS}
    assert len(tasks["train"]) >= 2000 and len(tasks["test_id"]) >= 300 and len(tasks["test_ood"]) >= 300
    assert all((tasks_dir() / "sql" / f"{split}.jsonl").stat().st_size < 5_000_000 for split in SPLITS)
    for split, items in tasks.items():
        assert len({t.question for t in items}) == len(items), f"{split} repeats a question"
        assert len({t.id for t in items}) == len(items)
        kinds = Counter(t.expected["kind"] for t in items)
        assert 0.15 <= kinds["state"] / len(items) <= 0.3 and kinds["rows"] and kinds["number"]
    assert not {t.question for t in tasks["test_id"]} & {t.question for t in tasks["train"]}
    assert len({t.tags[0] for t in tasks["train"]}) >= 30 and len({t.tags[0] for t in tasks["test_ood"]}) >= 15


def test_out_of_domain_uses_unseen_databases_and_query_shapes():
    seen = {t.context["database"] for s in ("train", "test_id") for t in load_tasks("sql", s)}
    ood = load_tasks("sql", "test_ood")
    assert seen == set(IN_DOMAIN) and {t.context["database"] for t in ood} == set(OUT_OF_DOMAIN)
    assert len(IN_DOMAIN + OUT_OF_DOMAIN) >= 5 and len(OUT_OF_DOMAIN) >= 2
    queries = {
        split: " ".join(c.arguments.get("query", "") for t in load_tasks("sql", split) for c in t.reference.tool_calls)
        for split in SPLITS
    }
    for shape in ("HAVING", "NOT EXISTS", "OVER (PARTITION BY", "julianday"):
        assert shape in queries["test_ood"] and shape not in queries["train"] + queries["test_id"]
    joined = {  # the reference describes exactly the tables its query reads
        split: [
            sum(c.name == "describe_table" for c in t.reference.tool_calls)
            for t in load_tasks("sql", split)
            if t.expected["kind"] != "state"
        ]
        for split in SPLITS
    }
    assert max(joined["train"] + joined["test_id"]) <= 3 and max(joined["test_ood"]) >= 4


@pytest.mark.parametrize("name", IN_DOMAIN + OUT_OF_DOMAIN)
def test_databases_have_related_tables_of_realistic_size(name):
    conn = template_db(name)
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    with_keys = [t for t in tables if conn.execute(f"PRAGMA foreign_key_list({t})").fetchall()]
    sizes = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables]
    assert len(tables) >= 4 and len(with_keys) >= 2
    assert max(sizes) >= 150 and all(5 <= size <= 1200 for size in sizes)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_env_passes_gymnasium_check_env():
    check_env(ToolUseEnv(domain="sql", split="test_ood"), skip_render_check=True)


# -- tools -----------------------------------------------------------------------------------------


def test_list_and_describe_tables(train_env):
    task = first("train", "cheap_in_genre")
    calls = [("list_tables", {}), ("describe_table", {"table": "Books"}), ("describe_table", {"table": "nope"})]
    _, (observation,) = play(train_env, task, [render_turn("", calls)])
    assert "books (150 rows)" in observation and "genres (10 rows)" in observation
    assert "author_id INTEGER NOT NULL REFERENCES authors(author_id)" in observation
    assert "-- 150 rows; sample:" in observation
    assert "no table named 'nope'; the tables are: authors, books" in observation


def test_results_are_capped_at_the_row_limit():
    env = ToolUseEnv(domain="sql", split="train", max_rows=5)
    _, (capped,) = play(env, first("train", "cheap_in_genre"), [sql("SELECT book_id FROM books ORDER BY book_id")])
    assert "book_id\n1\n2\n3\n4\n5\n... 145 more rows not shown (only 5 rows are shown)\n(150 rows)" in capped


def test_long_results_are_cut_at_the_size_cap(train_env):
    wide = "SELECT printf('%.300c', 'x') FROM books"
    _, (observation,) = play(train_env, first("train", "cheap_in_genre"), [sql(wide)])
    assert "more rows not shown (output limit of 6000 characters)" in observation
    assert len(observation) < 6500 and "x" * 200 + "…" in observation


def test_bad_limits_are_refused():
    with pytest.raises(ConfigError):
        ToolUseEnv(domain="sql", time_budget_s=0)


def test_default_row_cap_is_200(train_env):
    _, (observation,) = play(train_env, first("train", "cheap_in_genre"), [sql("SELECT * FROM order_items")])
    assert "... 374 more rows not shown (only 200 rows are shown)" in observation
    assert observation.count("\n") < 215


def test_runaway_query_hits_the_time_budget_and_the_env_keeps_working(train_env):
    # ~25 s of work without the budget (bounded, so a broken budget fails the test instead of hanging it)
    runaway = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1e8) SELECT COUNT(*) FROM n"
    task = first("train", "author_book_count")
    started = time.monotonic()
    _, observations = play(train_env, task, [sql(runaway), sql("SELECT COUNT(*) FROM books")])
    assert time.monotonic() - started < 5
    assert "query interrupted: time budget of 1.0 s exceeded" in observations[0]
    assert "150\n(1 row)" in observations[1]


def test_multiple_statements_are_rejected_and_none_runs(train_env):
    task = first("train", "restock")
    title = task.question.split("'")[1]
    both = f"UPDATE books SET stock = 999 WHERE title = '{title}'; SELECT 1"
    _, observations = play(train_env, task, [sql(both), sql(f"SELECT stock FROM books WHERE title = '{title}'")])
    assert "only one SQL statement per run_sql call" in observations[0]
    assert "999" not in observations[1]


# -- the read-only guard -------------------------------------------------------------------------


WRITES = [
    "DELETE FROM books",
    "UPDATE books SET price = 0",
    "INSERT INTO genres (name) VALUES ('Horror')",
    "DROP TABLE books",
    "CREATE TABLE notes (x)",
    "ALTER TABLE books ADD COLUMN rating",
    "PRAGMA query_only = 0",
    "ATTACH DATABASE ':memory:' AS other",
]


@pytest.mark.parametrize("statement", WRITES)
def test_answer_tasks_refuse_writes_and_keep_the_data(train_env, statement):
    task = first("train", "cheap_in_genre")
    check = "SELECT COUNT(*), ROUND(SUM(price), 2), (SELECT COUNT(*) FROM genres) FROM books"
    actions = [sql(check), sql(statement), sql(check), answer(task.reference.answer)]
    reward, observations = play(train_env, task, actions)
    assert "this task's database is read-only" in observations[1] and "not allowed" in observations[1]
    assert observations[2] == observations[0]
    assert reward == 1.0


def test_query_only_pragma_cannot_be_switched_off_to_write(train_env):
    task = first("train", "cheap_in_genre")
    _, observations = play(train_env, task, [sql("PRAGMA query_only = OFF"), sql("DELETE FROM genres")])
    assert all("read-only" in observation for observation in observations)


# -- state tasks ---------------------------------------------------------------------------------


def test_state_task_accepts_an_equivalent_change_and_rejects_wrong_ones(train_env):
    task = first("train", "restock")
    title, copies = task.question.split("'")[1], task.question.rsplit(" to ", 1)[1].split()[0]
    by_id = f"(SELECT book_id FROM books WHERE title = '{title}')"
    equivalent = f"UPDATE books SET stock = {copies} WHERE book_id = {by_id}"
    assert play(train_env, task, [sql(equivalent), answer("done")])[0] == 1.0
    assert play(train_env, task, [sql(f"UPDATE books SET stock = {copies}"), answer("done")])[0] == 0.0
    assert play(train_env, task, [answer("done")])[0] == 0.0  # nothing changed


def test_state_tasks_allow_dml_but_not_schema_changes(train_env):
    task = first("train", "restock")
    _, observations = play(train_env, task, [sql("DROP TABLE order_items"), sql("ATTACH ':memory:' AS x")])
    assert all("not allowed here" in observation for observation in observations)
    _, (observation,) = play(train_env, task, [sql("DELETE FROM order_items WHERE order_id = 1")])
    assert "OK: 1 row affected" in observation


def test_insert_task_counts_rows_so_a_duplicate_insert_fails():
    env = ToolUseEnv(domain="sql", split="train")
    task = first("train", "new_customer")
    insert = task.reference.tool_calls[-1].arguments["query"]
    assert play(env, task, [sql(insert), answer("done")])[0] == 1.0
    assert play(env, task, [sql(insert), sql(insert.replace("@mail", "@other")), answer("done")])[0] == 0.0


def test_episodes_are_isolated_from_each_other(train_env):
    task = first("train", "restock")
    _, (deleted,) = play(train_env, task, [sql("DELETE FROM order_items")])
    assert "OK: 574 rows affected" in deleted
    _, (count,) = play(train_env, task, [sql("SELECT COUNT(*) FROM order_items")])
    assert "574\n(1 row)" in count
    assert template_db("bookstore").execute("SELECT COUNT(*) FROM order_items").fetchone() == (574,)


# -- answers -------------------------------------------------------------------------------------


def test_ordered_answers_must_keep_the_order_and_unordered_ones_need_not(train_env):
    ordered = first("train", "most_expensive")
    values = ordered.reference.answer.split(", ")
    assert play(train_env, ordered, [answer(", ".join(values))])[0] == 1.0
    assert play(train_env, ordered, [answer(", ".join(reversed(values)))])[0] == 0.0
    lists = (t for t in load_tasks("sql", "train") if t.tags[0] == "cheap_in_genre" and "," in t.reference.answer)
    unordered = next(lists)
    values = unordered.reference.answer.split(", ")
    assert play(train_env, unordered, [answer(", ".join(reversed(values)))])[0] == 1.0
    assert play(train_env, unordered, [answer(", ".join(values[1:]))])[0] == 0.0


def test_reference_answers_come_from_running_the_reference_query():
    for task in load_tasks("sql", "test_ood")[:60]:
        if task.expected["kind"] == "state":
            continue
        conn = sqlite3.connect(":memory:")
        template_db(task.context["database"]).backup(conn)
        rows = conn.execute(task.reference.tool_calls[-1].arguments["query"]).fetchall()
        got = [row[0] for row in rows]
        if not task.expected.get("ordered"):
            got = sorted(got, key=str)
        want = task.expected["answer"]
        assert got == (want if isinstance(want, list) else [want])
        assert reference_actions(task.reference)[-1].endswith(f"\\boxed{{{task.reference.answer}}}.")
