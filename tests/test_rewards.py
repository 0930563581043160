import pytest

from tooluse_envs.episode import EpisodeRecord, Outcome, ToolCallRecord
from tooluse_envs.rewards import (
    REWARDS,
    get_reward,
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


def episode(calls=(), correct=True, answer="13", eos=True, parsed=True) -> EpisodeRecord:
    """An ended episode; calls are names, or (name, arguments), or (name, arguments, known)."""
    records = []
    for call in calls:
        name, args, known = (call, {}, True) if isinstance(call, str) else (call + (True,))[:3]
        records.append(ToolCallRecord(name, args, known, known))
    return EpisodeRecord("t", records, 2, answer, eos, parsed, Outcome(correct))


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


def test_mentor_counts_a_teacher_without_tools_as_matched_only_by_no_tools():
    no_tools = Reference((), "no")
    assert mentor(episode([], answer="no"), no_tools).components["m"] == 1.0
    assert mentor(episode(["add"], answer="no"), no_tools).components["m"] == 0.0
    assert mentor(episode([], answer="13"), TEACHER).components["m"] == 0.0


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
