"""Limits that keep one turn cheap, each with the attack that broke it.

The action size limit is enforced before parsing; SQL statements stop at their time budget whatever they
call (and ``printf``, one C call the budget cannot interrupt, is bounded another way); all tool calls of
one turn share a wall-clock budget; answer checking is linear-time and bounded in size. No assertion
here reads a clock (project rule): each attack would hang or take minutes without its limit, and the
tests check the result the limit gives.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import tooluse_envs.env as env_module
from tooluse_envs import answers
from tooluse_envs.actions import MAX_ACTION_CHARS
from tooluse_envs.domain import check_answer
from tooluse_envs.domains.sql import MAX_LIKE_PATTERN, EpisodeDatabase, QueryError
from tooluse_envs.domains.sql_functions import MAX_PRINTF_WIDTH, MAX_SEARCH_PATTERN, MAX_TRIM_SET
from tooluse_envs.errors import ConfigError
from tooluse_envs.parsing import extract_boxed, render_tool_call, render_turn

MEGABYTE = 1 << 20

# -- the action size limit --------------------------------------------------------------------------


def test_the_action_space_declares_the_limit_the_env_enforces():
    env = gym.make("tooluse/Calculator-v0", split="test_id")
    assert env.action_space.max_length == MAX_ACTION_CHARS == MEGABYTE
    env.reset(seed=0)
    at_limit = "x" * (MAX_ACTION_CHARS - 8) + "\\boxed{}"
    observation, _, terminated, _, _ = env.step(at_limit)
    assert terminated and "No \\boxed{} answer" in observation  # read, and answered as a turn
    env.reset(seed=0)
    observation, _, terminated, _, _ = env.step(at_limit + "x")
    assert not terminated and observation.startswith("Error: the action has 1048577 characters; the limit")
    env.close()


@pytest.mark.parametrize(
    "action",
    [
        "<tool_call>" + "[" * MEGABYTE + "</tool_call>",
        {"role": "assistant", "content": "x" * MEGABYTE},
        {"tool_calls": [{"function": {"name": "add", "arguments": {"a": ["1"] * MEGABYTE}}}]},
    ],
    ids=["text", "message content", "message arguments"],
)
def test_an_oversized_action_is_refused_before_it_is_parsed(monkeypatch, action):
    def must_not_parse(*args, **kwargs):
        raise AssertionError("an oversized action reached the parser")

    monkeypatch.setattr(env_module, "parse_turn", must_not_parse)
    monkeypatch.setattr(env_module, "parse_openai_message", must_not_parse)
    env = gym.make("tooluse/Calculator-v0", split="test_id")
    env.reset(seed=0)
    observation, _, terminated, _, _ = env.step(action)
    assert not terminated and "limit" in observation and observation.startswith("Error")
    assert not env.unwrapped._record.tool_calls[-1].valid
    env.close()


# -- SQL statements stop at their time budget -------------------------------------------------------


@pytest.fixture
def database():
    db = EpisodeDatabase("bookstore", writable=False, time_budget_s=0.2)
    yield db
    db.close()


@pytest.mark.parametrize(
    "query",
    [
        "SELECT printf('%.*c', 2147483647, 'x')",  # about 40 s in one C call without the bound
        "SELECT format('%.*c', 2147483647, 'x')",
        "SELECT length(printf('%.2147483647c', 'x'))",
        "SELECT printf('%.*c', '2147483647 apples', 'x')",  # '*' reads text arguments as SQLite does
        "SELECT printf('%s %.*c', 'a', 20000, 'x')",
        f"SELECT printf('%{MAX_PRINTF_WIDTH + 1}d', 1)",
    ],
)
def test_printf_widths_are_bounded_with_a_clear_error(database, query):
    with pytest.raises(QueryError, match=f"width or precision .* above the limit of {MAX_PRINTF_WIDTH}"):
        database.run_sql(query)


# a string of n characters 'a' (SQLite has no repeat())
def _as(n: int) -> str:
    return f"replace(hex(zeroblob({n // 2})), '0', 'a')"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        # one C call each, comparing every character with every character of the set: about an hour
        (f"SELECT length(trim({_as(999_990)}, {_as(500_000)} || 'b'))", "set of characters to trim"),
        (f"SELECT ltrim({_as(1000)}, {_as(MAX_TRIM_SET)} || 'b')", f"the limit is {MAX_TRIM_SET}"),
        (f"SELECT rtrim({_as(1000)}, {_as(MAX_TRIM_SET)} || 'b')", f"the limit is {MAX_TRIM_SET}"),
        # the pattern compared at every position: seconds
        (f"SELECT instr({_as(999_990)}, {_as(500_000)} || 'b')", f"the limit is {MAX_SEARCH_PATTERN}"),
        (f"SELECT length(replace({_as(999_990)}, {_as(500_000)} || 'b', 'x'))", "string to search for"),
        (f"SELECT {_as(999_990)} LIKE '%' || {_as(50_000)} || 'b%'", f"at most {MAX_LIKE_PATTERN} characters"),
        (f"SELECT {_as(999_990)} GLOB '*' || {_as(50_000)} || 'b*'", f"at most {MAX_LIKE_PATTERN} characters"),
    ],
    ids=["trim", "ltrim", "rtrim", "instr", "replace", "like", "glob"],
)
def test_functions_whose_one_call_outlasts_the_budget_take_bounded_arguments(database, query, error):
    with pytest.raises(QueryError, match=error):
        database.run_sql(query)


def test_bounded_functions_give_sqlites_own_results(database):
    query = (
        "SELECT trim('  xx  ') || ltrim('xxay', 'x') || rtrim('ayxx', 'x') || trim('--a--', '-'), "
        "instr('hello', 'll'), replace('a b c', ' ', '_'), replace(NULL, 'a', 'b'), instr(12345, 34)"
    )
    assert "\nxxayaya | 3 | a_b_c | NULL | 3\n" in database.run_sql(query)
    assert "\n1\n" in database.run_sql(f"SELECT {_as(1000)} LIKE '%' || {_as(MAX_LIKE_PATTERN - 2)} || '%'")
    with pytest.raises(QueryError, match=r"replace\(\): string or blob too big"):  # the length limit still holds
        database.run_sql(f"SELECT replace({_as(800_000)}, 'a', 'xyz')")


def test_printf_within_the_bound_is_sqlites_own(database):
    result = database.run_sql("SELECT printf('%5.2f|%*d|%s|%%|%q|%.*c', 3.14159, 6, 42, 'hi', 'it''s', 3, 'x')")
    assert " 3.14|    42|hi|%|it''s|xxx" in result
    assert "\n1200000\n" in database.run_sql("SELECT printf('%*d', 5, 1200000)")  # a large value, not a width
    assert "\nNULL\n" in database.run_sql("SELECT printf(NULL)")


@pytest.mark.parametrize(
    "query",
    [
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n",  # endless
        "SELECT COUNT(*) FROM books a, books b, books c, books d, books e, books f",  # 150**6 rows
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n ORDER BY x DESC",
        "SELECT group_concat(a.title) FROM books a, books b, books c, books d",
    ],
    ids=["recursive CTE", "cross join", "sorting an endless CTE", "aggregate over a huge join"],
)
def test_runaway_statements_are_interrupted_at_the_budget(database, query):
    with pytest.raises(QueryError, match="query interrupted: time budget of 0.2 s exceeded"):
        database.run_sql(query)
    assert "150" in database.run_sql("SELECT COUNT(*) FROM books")  # the connection still works


def test_values_past_the_length_limit_are_refused(database):
    with pytest.raises(QueryError, match="too big"):
        database.run_sql("SELECT zeroblob(2000000000)")


# -- the per-turn budget ----------------------------------------------------------------------------

ADD = render_tool_call("add", {"a": 1, "b": 2})


def test_calls_after_the_turn_budget_are_answered_not_run(monkeypatch):
    ticks = iter(range(0, 1000, 10))  # every look at the clock is 10 s later
    monkeypatch.setattr(env_module, "_clock", lambda: float(next(ticks)))
    env = gym.make("tooluse/Calculator-v0", split="test_id", turn_budget_s=25, reward="mentor")
    env.reset(seed=0)
    observation, _, _, _, _ = env.step("\n".join([ADD] * 4))  # deadline 25; calls start at 10, 20, 30, 40
    responses = observation.split("</tool_response>")[:4]
    assert ["turn budget exceeded" in r for r in responses] == [False, False, True, True]
    assert "3" in responses[0] and "Error: turn budget exceeded (25 s of tool calls per turn)" in responses[2]
    calls = env.unwrapped._record.tool_calls
    assert [(c.valid, c.known) for c in calls] == [(True, True), (True, True), (False, True), (False, True)]
    observation, _, _, _, _ = env.step(ADD)  # a new turn gets a new budget
    assert "Error" not in observation
    env.close()


def test_runaway_sql_calls_share_one_turn_budget():
    runaway = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n"
    env = gym.make("tooluse/SQL-v0", split="train", time_budget_s=0.3, turn_budget_s=0.5)
    env.reset(seed=0)
    observation, _, _, _, _ = env.step(render_turn("", [("run_sql", {"query": runaway})] * 3))
    responses = observation.split("</tool_response>")[:3]
    # the first call starts at once and the second before 0.5 s; each runs its full 0.3 s, so the third
    # would start after 0.6 s: past the turn's budget, it is not run
    assert "time budget of 0.3 s exceeded" in responses[0]
    assert "turn budget exceeded (0.5 s" in responses[2]
    env.close()


def test_the_turn_budget_defaults_to_30_s_and_must_be_positive():
    env = gym.make("tooluse/Calculator-v0")
    assert env.unwrapped.turn_budget_s == 30.0
    env.close()
    for bad in (0, -1, float("nan")):
        with pytest.raises(ConfigError, match="turn_budget_s"):
            gym.make("tooluse/Calculator-v0", turn_budget_s=bad)


# -- answer checking: linear time, bounded size -----------------------------------------------------

ADVERSARIAL = "1" + "e" * MEGABYTE + "!"  # 12 s at 20k characters with the old number-with-unit pattern


def test_a_megabyte_adversarial_answer_is_rejected():
    answer = extract_boxed(f"The answer is \\boxed{{{ADVERSARIAL}}}.")
    assert answer == ADVERSARIAL
    for expected in (
        {"kind": "number", "answer": 1.0},
        {"kind": "number", "answer": 1.0, "decimals": 2},
        {"kind": "text", "answer": "one"},
        {"kind": "rows", "answer": [1, "e"]},
    ):
        assert check_answer(expected, answer).correct is False


def test_number_parsing_is_linear_even_past_the_length_bound():
    # the unit stripper, called directly on a megabyte (parse_exact refuses such a string unread): a
    # backtracking pattern would take hours here, so this test hangs rather than fails if it comes back
    assert answers._without_unit(ADVERSARIAL) == ADVERSARIAL
    assert answers._without_unit("1" + " " * MEGABYTE + "/") == "1" + " " * MEGABYTE + "/"
    assert answers._without_unit("12.5 kg.") == "12.5" and answers._without_unit("5eV") == "5e"
    assert answers.parse_exact(ADVERSARIAL) is None
    assert answers.parse_exact("1/" + "7" * 5000) is None  # past Python's int-string limit: not a number


def test_a_megabyte_list_answer_is_checked_without_reading_every_item():
    huge_list = ", ".join(["1"] * (MEGABYTE // 3))
    assert not answers.values_match(huge_list, [1, 1])
    assert not answers.values_match(", ".join([ADVERSARIAL[:1000]] * 2), [1, 2])  # right count, wrong values
    assert answers.values_match("1,000, 2", [1000, 2])  # a thousands separator is still no item separator


def test_answers_past_the_size_bound_are_wrong_unread():
    padded = "Paris" + " " * answers.MAX_ANSWER_CHARS
    assert answers.text_answer_correct("Paris ", "Paris")
    assert not answers.text_answer_correct(padded, "Paris")
    assert answers.token_f1(padded, "Paris") == 0.0
    assert not answers.values_match(padded, ["Paris"])
