"""The SQL domain: its databases, its guard and limits, its state checks, and its generated tasks."""

from __future__ import annotations

import json
import time
from collections import Counter
from fractions import Fraction

import pytest
from gymnasium.utils.env_checker import check_env

from tooluse_envs.domains.sql_databases import IN_DOMAIN, OUT_OF_DOMAIN, template_db
from tooluse_envs.domains.sql_questions import ID_TEMPLATES
from tooluse_envs.domains.sql_questions_ood import (
    UNSEEN_CONSTRUCTS,
    UNSEEN_DATABASE_TEMPLATES,
    UNSEEN_TEMPLATE_TEMPLATES,
)
from tooluse_envs.domains.sql_strategies import FEW_ROWS, SCANNABLE, Solution, table_named, teacher_reference
from tooluse_envs.domains.sql_tasks import TaskBuilder, aggregate_exactly
from tooluse_envs.domains.sql_template import SUFFIX, Draft, question_pattern
from tooluse_envs.env import ToolUseEnv
from tooluse_envs.errors import ConfigError
from tooluse_envs.oracle import play_reference
from tooluse_envs.parsing import render_turn
from tooluse_envs.tasks import SPLITS, Task, load_tasks, tasks_dir

TEMPLATES = {t.name: t for t in ID_TEMPLATES + UNSEEN_DATABASE_TEMPLATES + UNSEEN_TEMPLATE_TEMPLATES}


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


def test_split_sizes_state_share_and_distinct_questions():
    tasks = {split: load_tasks("sql", split) for split in SPLITS}
    assert len(tasks["train"]) >= 2000 and len(tasks["test_id"]) >= 300 and len(tasks["test_ood"]) >= 300
    assert all((tasks_dir() / "sql" / f"{split}.jsonl").stat().st_size < 5_000_000 for split in SPLITS)
    parts = [tasks["train"], tasks["test_id"]] + [
        [t for t in tasks["test_ood"] if t.axis == axis]
        for axis in ("unseen_database", "unseen_template", "paraphrase")
    ]
    for items in parts:
        kinds = Counter(t.expected["kind"] for t in items)
        assert 0.15 <= kinds["state"] / len(items) <= 0.3 and kinds["rows"] and kinds["number"]
    for split, items in tasks.items():
        assert len({t.question for t in items}) == len(items), f"{split} repeats a question"
        assert len({t.id for t in items}) == len(items)
    assert not {t.question for t in tasks["test_id"]} & {t.question for t in tasks["train"]}
    assert len({t.tags[0] for t in tasks["train"]}) >= 30 and len({t.tags[0] for t in tasks["test_ood"]}) >= 30


def queries(task: Task) -> str:
    return " ".join(c.arguments.get("query", "") for c in task.reference.tool_calls)


def test_ood_axes_each_change_one_thing():
    train = load_tasks("sql", "train")
    in_domain = train + load_tasks("sql", "test_id")
    ood = load_tasks("sql", "test_ood")
    axes = {axis: [t for t in ood if t.axis == axis] for axis in ("unseen_database", "unseen_template", "paraphrase")}
    assert all(len(tasks) >= 100 for tasks in axes.values()) and sum(map(len, axes.values())) == len(ood)
    assert {t.context["database"] for t in in_domain} == set(IN_DOMAIN)
    seen_sql = " ".join(queries(t) for t in in_domain)
    assert not [c for c in UNSEEN_CONSTRUCTS if c in seen_sql], "training shows a construct reserved for test_ood"
    # unseen_database: only the new databases, asked with training's constructs and at most three tables
    assert {t.context["database"] for t in axes["unseen_database"]} == set(OUT_OF_DOMAIN)
    for task in axes["unseen_database"]:
        assert not [c for c in UNSEEN_CONSTRUCTS if c in queries(task)], task.id
    # unseen_template: the training databases, every query using a construct training never shows
    assert {t.context["database"] for t in axes["unseen_template"]} == set(IN_DOMAIN)
    assert all(any(c in queries(t) for c in UNSEEN_CONSTRUCTS) for t in axes["unseen_template"])
    assert not {t.template for t in axes["unseen_template"]} & {t.template for t in train}
    # paraphrase: training's templates and databases in new words, none a training computation
    assert {t.template for t in axes["paraphrase"]} <= {t.template for t in train}
    train_questions = {t.question for t in train}
    train_sql = {
        (t.context["database"], queries_of_teacher_sql(t), json.dumps(t.expected, sort_keys=True)) for t in train
    }
    for task in axes["paraphrase"]:
        template = TEMPLATES[task.template]
        assert task.question not in train_questions
        assert not question_pattern(template.question, SUFFIX[template.suffix_kind]).fullmatch(task.question)
        assert (
            task.context["database"],
            queries_of_teacher_sql(task),
            json.dumps(task.expected, sort_keys=True),
        ) not in train_sql


def queries_of_teacher_sql(task: Task) -> str:
    """The SQL that computes the answer, whichever way the teacher explored (aggregate in SQL)."""
    options = (task.reference, *task.reference.alternatives)
    chosen = next(r for r in options if "compute_in_answer" not in (r.strategy or ""))
    return " ; ".join(c.arguments["query"] for c in chosen.tool_calls if c.name == "run_sql")


def test_no_test_task_repeats_a_train_computation_whatever_the_exploration():
    train = {
        (t.context["database"], queries_of_teacher_sql(t), json.dumps(t.expected, sort_keys=True))
        for t in load_tasks("sql", "train")
    }
    for split in ("test_id", "test_ood"):
        leaked = [
            t.id
            for t in load_tasks("sql", split)
            if (t.context["database"], queries_of_teacher_sql(t), json.dumps(t.expected, sort_keys=True)) in train
        ]
        assert not leaked, f"{split}: {leaked[:3]}"


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


def test_unordered_list_answers_have_several_values_and_single_answers_are_asked_for_as_one():
    for split in SPLITS:
        for task in load_tasks("sql", split):
            if task.expected["kind"] != "rows":
                continue
            values = task.expected["answer"]
            if "List all of them" in task.question or "List them in that order" in task.question:
                assert len(values) >= 2, (task.id, task.question, values)
            if len(values) == 1:
                assert "List" not in task.question and TEMPLATES[task.template].answers == "one", task.id


def test_a_list_all_question_with_one_value_and_a_one_value_question_with_two_are_refused():
    builder = TaskBuilder(1.0, 200)
    many, one = TEMPLATES["city_customers"], TEMPLATES["first_hired"]
    single = Draft(
        many, "Which customers ...?" + SUFFIX["many"], ("SELECT name FROM customers WHERE customer_id = 1",), ""
    )
    assert builder.solve(single) is None
    assert builder.solve(Draft(many, "q", ("SELECT name FROM customers WHERE customer_id IN (1, 2)",), "")) is not None
    two = Draft(one, "Who was the first ...?", ("SELECT first_name FROM employees WHERE emp_id IN (1, 2)",), "")
    assert builder.solve(two) is None
    short = Draft(TEMPLATES["most_expensive"], "List the 5 ...", ("SELECT title FROM books LIMIT 5",), "")
    assert builder.solve(short) is not None
    assert (
        builder.solve(
            Draft(short.template, "List the 5 ...", ("SELECT title FROM books WHERE book_id < 4 LIMIT 5",), "")
        )
        is None
    )


# -- exact numbers --------------------------------------------------------------------------------


def test_number_answers_state_their_precision_and_rounding():
    for split in SPLITS:
        for task in load_tasks("sql", split):
            if task.expected["kind"] != "number":
                continue
            decimals = task.expected["decimals"]
            assert decimals in (0, 2), task.id
            text = repr(task.expected["answer"])
            assert len(text.partition(".")[2]) <= decimals, task.id
            if decimals:
                assert "Round to 2 decimal places (halves round up)" in task.question or "to the cent" in task.question


def test_aggregates_are_exact_and_round_half_up():
    assert str(aggregate_exactly("AVG", [1.25, 1.26], 2)) == "1.26"  # float round(1.255, 2) gives 1.25
    assert str(aggregate_exactly("SUM", [0.1, 0.1, 0.1], 2)) == "0.30"
    assert str(aggregate_exactly("AVG", [0, 1], 0)) == "1"  # half up, not to even
    assert str(aggregate_exactly("COUNT", ["a", "b", "b"], 0)) == "3"
    assert aggregate_exactly("MAX", [], 0) is None


def test_an_unrounded_average_is_not_accepted(train_env):
    for task in (t for t in load_tasks("sql", "train") if t.template == "course_average"):
        fetch = next(a for a in task.reference.alternatives + (task.reference,) if "compute_in_answer" in a.strategy)
        grades = [row[0] for row in template_db("school").execute(fetch.tool_calls[-1].arguments["query"])]
        unrounded = Fraction(sum(grades), len(grades))
        if unrounded * 100 % 1:  # more than two decimals
            break
    assert play(train_env, task, [answer(f"{float(unrounded):.6f}")])[0] == 0.0
    assert play(train_env, task, [answer(task.reference.answer)])[0] == 1.0


# -- teacher strategies ---------------------------------------------------------------------------


def test_teacher_tool_set_varies_within_templates_and_follows_the_question():
    train = load_tasks("sql", "train")
    per_template: dict[str, set] = {}
    for task in train:
        per_template.setdefault(task.template, set()).add(frozenset(task.reference.tool_names))
    assert sum(len(sets) >= 2 for sets in per_template.values()) >= 0.8 * len(per_template)

    def explores(tasks: list[Task]) -> float:
        return sum("list_tables" in t.reference.tool_names for t in tasks) / len(tasks)

    def tables(task: Task) -> list[str]:
        return [
            c.arguments["table"]
            for c in max((task.reference, *task.reference.alternatives), key=lambda r: len(r.tool_calls)).tool_calls
            if c.name == "describe_table"
        ]

    hidden = [t for t in train if not all(table_named(name, t.question) for name in tables(t))]
    named = [t for t in train if all(table_named(name, t.question) for name in tables(t))]
    assert len(hidden) > 100 and len(named) > 100 and explores(hidden) > explores(named) + 0.3


def test_teacher_computes_in_the_answer_only_a_few_rows_of_a_count_or_extreme():
    chosen = 0
    for split in SPLITS:
        for task in load_tasks("sql", split):
            if "compute_in_answer" in (task.reference.strategy or ""):
                chosen += 1
                rows = task.reference.tool_calls[-1]
                assert TEMPLATES[task.template].aggregate in SCANNABLE, task.id
                assert rows.name == "run_sql"
    assert chosen >= 50


def test_every_task_has_an_alternative_with_another_tool_set_and_the_choice_is_seeded():
    for split in SPLITS:
        for task in load_tasks("sql", split):
            sets = {frozenset(a.tool_names) for a in task.reference.alternatives}
            assert sets - {frozenset(task.reference.tool_names)}, task.id
            assert len({a.strategy for a in task.reference.alternatives} | {task.reference.strategy}) == 1 + len(
                task.reference.alternatives
            )
    solution = Solution(
        "How many books?",
        ("books",),
        ("SELECT COUNT(*) FROM books",),
        "150",
        "COUNT",
        "SELECT book_id FROM books",
        "150",
        FEW_ROWS + 1,
    )
    assert teacher_reference(solution, "a") == teacher_reference(solution, "a")
    assert len({teacher_reference(solution, str(i)).strategy for i in range(40)}) >= 2
