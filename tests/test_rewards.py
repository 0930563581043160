import pytest

from tooluse_envs.episode import EpisodeRecord, Outcome, ToolCallRecord
from tooluse_envs.rewards import (
    REWARDS,
    get_reward,
    make_reward,
    mentor,
    mentor_f1,
    mentor_no_match,
    mentor_partial,
    sparse,
    strict,
    toolrl,
)
from tooluse_envs.tasks import Reference, ReferenceCall

TEACHER = Reference((ReferenceCall("multiply", {"a": 3, "b": 4}), ReferenceCall("add", {"a": 12, "b": 1})), "13")


def episode(calls=(), correct=True, answer="13", eos=True, parsed=True, truncated=False) -> EpisodeRecord:
    """An ended episode; calls are names, or (name, arguments), or (name, arguments, known)."""
    records = []
    for call in calls:
        name, args, known = (call, {}, True) if isinstance(call, str) else (call + (True,))[:3]
        records.append(ToolCallRecord(name, args, known, known))
    return EpisodeRecord("t", records, 2, answer, eos, parsed, Outcome(correct), truncated)


UNKNOWN = ("rm_rf", {}, False)


@pytest.mark.parametrize(
    ("case", "record", "value"),
    [
        ("correct, same tool set, no unknown tool", episode(["multiply", "add"]), 1.1),
        ("correct, different tool set", episode(["multiply"]), 0.8),
        ("correct, same set, an unknown tool name too", episode(["multiply", "add", UNKNOWN]), 1.0),
        ("wrong, same tool set", episode(["add", "multiply", "add"], correct=False), 0.16),
        ("wrong, different set", episode(["divide"], correct=False), 0.1),
        ("wrong, same set, unknown tool name", episode(["multiply", "add", UNKNOWN], correct=False), 0.06),
        ("no boxed answer", episode(["multiply", "add"], answer=None, correct=False), 0.1),
        ("cut off without EOS", episode(["multiply", "add"], eos=False), 0.0),
    ],
)
def test_mentor_reproduces_the_papers_table(case, record, value):
    assert mentor(record, TEACHER).value == pytest.approx(value, abs=1e-12), case
    assert f"{mentor(record, TEACHER).value:.2f}" == f"{value:.2f}"


def test_a_teacher_without_tools_gives_the_authors_flat_reward_by_default():
    no_tools = Reference((), "no")
    for fn in (mentor, mentor_partial, mentor_f1, strict):
        assert fn(episode([], answer="no"), no_tools).value == pytest.approx(0.1)
        assert fn(episode(["add"], answer="no", correct=False), no_tools).value == pytest.approx(0.1)
    assert mentor_no_match(episode([], answer="no"), no_tools).value == pytest.approx(0.8)  # uses no teacher


def test_the_match_option_counts_a_teacher_without_tools_as_matched_only_by_no_tools():
    no_tools = Reference((), "no")
    matched = make_reward("mentor", teacher_without_tools="match")
    assert matched(episode([], answer="no"), no_tools).components["m"] == 1.0
    assert matched(episode([], answer="no"), no_tools).value == pytest.approx(1.1)
    assert matched(episode(["add"], answer="no"), no_tools).components["m"] == 0.0
    assert mentor(episode([], answer="13"), TEACHER).components["m"] == 0.0


def test_running_out_of_turns_is_a_sequence_without_eos_unless_asked_otherwise():
    out_of_turns = episode(["multiply"], answer=None, correct=False, truncated=True)
    for fn in (mentor, sparse, mentor_no_match, strict):
        assert fn(out_of_turns, TEACHER).value == 0.0
    assert toolrl(out_of_turns, TEACHER).components["format"] == 0.0
    lenient = make_reward("mentor", out_of_turns="no_answer")
    assert lenient(out_of_turns, TEACHER).value == pytest.approx(0.1)
    with pytest.raises(ValueError, match="out_of_turns"):
        make_reward("mentor", out_of_turns="sometimes")
    with pytest.raises(ValueError, match="unknown reward option"):
        make_reward("mentor", gate=0.2)


def test_sparse():
    assert sparse(episode(["add"]), TEACHER).value == 1.0
    assert sparse(episode(["add"], correct=False), TEACHER).value == 0.1
    assert sparse(episode(answer=None, correct=False), TEACHER).value == 0.1
    assert sparse(episode(eos=False), TEACHER).value == 0.0


def test_partial_f1_and_no_match_variants():
    one_of_two = episode(["multiply", UNKNOWN])
    assert mentor_partial(one_of_two, TEACHER).value == pytest.approx(1.0)  # overlap counts, no h term
    assert mentor_f1(one_of_two, TEACHER).value == pytest.approx(0.7 + 0.3 * (2 / 3))  # F1 = 2/3, h = 0
    assert mentor_no_match(one_of_two, TEACHER).value == pytest.approx(0.7)
    assert mentor_no_match(episode([], correct=False), TEACHER).value == pytest.approx(0.1)


def test_strict_needs_the_same_sequence_with_the_same_arguments():
    exact = episode([("multiply", {"a": 3, "b": 4}), ("add", {"a": 12, "b": 1})])
    reordered = episode([("add", {"a": 12, "b": 1}), ("multiply", {"a": 3, "b": 4})])
    other_args = episode([("multiply", {"a": 4, "b": 3}), ("add", {"a": 12, "b": 1})])
    assert strict(exact, TEACHER).value == pytest.approx(1.1)
    assert strict(reordered, TEACHER).value == pytest.approx(0.8)
    assert strict(other_args, TEACHER).value == pytest.approx(0.8)
    assert mentor(reordered, TEACHER).value == pytest.approx(1.1)  # MENTOR ignores order and arguments


def test_toolrl_score_range_and_hand_computed_case():
    exact = episode([("multiply", {"a": 3, "b": 4}), ("add", {"a": 12, "b": 1})])
    assert toolrl(exact, TEACHER).value == pytest.approx(1 + 3)
    # One matched call with one of two values right: score = 1/2 (names) + (1 + 1) = 2.5; S_max = 1 + 3 + 3 = 7.
    half = episode([("multiply", {"a": 3, "b": 5})])
    assert toolrl(half, TEACHER).components["correct"] == pytest.approx(6 * 2.5 / 7 - 3)
    assert toolrl(episode([], answer=None), TEACHER).value == pytest.approx(0 + 6 * 0 / 7 - 3)


def test_toolrl_counts_repeated_calls_against_the_student():
    # names as multisets: [multiply, add] vs [multiply, add, add x15] share 2 of 17
    spam = [("multiply", {"a": 3, "b": 4}), ("add", {"a": 12, "b": 1})] + [("add", {"a": 0, "b": 0})] * 15
    names = 2 / 17
    assert toolrl(episode(spam), TEACHER).components["correct"] == pytest.approx(6 * (names + 3 + 3) / 7 - 3)


def test_toolrl_pairs_each_teacher_call_with_its_best_student_call():
    # the first "add" is a poor match, the second exact: ToolRL's code pairs the best, not the first
    calls = [("multiply", {"a": 3, "b": 4}), ("add", {"x": 1}), ("add", {"a": 12, "b": 1})]
    names = 2 / 3
    assert toolrl(episode(calls), TEACHER).components["correct"] == pytest.approx(6 * (names + 3 + 3) / 7 - 3)


def test_toolrl_gives_no_correctness_credit_or_penalty_when_the_teacher_made_no_call():
    no_tools = Reference((), "no")
    assert toolrl(episode([], answer="no"), no_tools).components["correct"] == 0.0
    assert toolrl(episode(["add"], answer="no"), no_tools).components["correct"] == 0.0


def test_rewards_are_looked_up_by_name_or_taken_as_callables():
    assert set(REWARDS) == {
        "outcome",
        "sparse",
        "mentor",
        "mentor_partial",
        "mentor_f1",
        "mentor_no_match",
        "strict",
        "toolrl",
    }
    assert get_reward("mentor") is mentor
    assert get_reward(sparse) is sparse
    with pytest.raises(ValueError, match="unknown reward"):
        get_reward("mentr")
